// The PS3.15 Basic Profile table (dicom_deid.h) and the attributes the DICOM reader reads.
#include <gtest/gtest.h>

#include <set>

#include "imaging/dicom.h"
#include "imaging/dicom_deid.h"

namespace xrs {
namespace {

TEST(DicomDeid, TheReaderReadsNoIdentifyingAttribute) {
  ASSERT_GE(dicom_attributes_read().size(), 20u);
  for (uint32_t tag : dicom_attributes_read()) {
    const auto group = static_cast<uint16_t>(tag >> 16);
    const auto element = static_cast<uint16_t>(tag & 0xffff);
    EXPECT_FALSE(is_identifying_dicom_attribute(group, element))
        << std::hex << group << "," << element << " is read but identifies a person";
  }
}

TEST(DicomDeid, TableIsOrderedUniqueAndHasTheKnownIdentifiers) {
  const auto table = identifying_dicom_attributes();
  EXPECT_GT(table.size(), 200u);
  std::set<std::string_view> keywords;
  for (size_t i = 0; i < table.size(); ++i) {
    EXPECT_TRUE(keywords.insert(table[i].keyword).second) << table[i].keyword;
    EXPECT_EQ(table[i].vr.size(), 2u) << table[i].keyword;
    EXPECT_FALSE(table[i].action.empty()) << table[i].keyword;
    if (i > 0) {
      const uint32_t a = (uint32_t(table[i - 1].group) << 16) | table[i - 1].element;
      const uint32_t b = (uint32_t(table[i].group) << 16) | table[i].element;
      EXPECT_LT(a, b) << table[i].keyword;
    }
  }
  // A few every reader of PS3.15 knows (tag numbers from PS3.6).
  EXPECT_TRUE(is_identifying_dicom_attribute(0x0010, 0x0010));  // Patient's Name
  EXPECT_TRUE(is_identifying_dicom_attribute(0x0010, 0x0020));  // Patient ID
  EXPECT_TRUE(is_identifying_dicom_attribute(0x0010, 0x0030));  // Patient's Birth Date
  EXPECT_TRUE(is_identifying_dicom_attribute(0x0008, 0x0050));  // Accession Number
  EXPECT_TRUE(is_identifying_dicom_attribute(0x0020, 0x000D));  // Study Instance UID
  EXPECT_TRUE(is_identifying_dicom_attribute(0x0008, 0x0080));  // Institution Name
  EXPECT_TRUE(is_identifying_dicom_attribute(0x6002, 0x3000));  // Overlay Data, group 6002
  EXPECT_FALSE(is_identifying_dicom_attribute(0x6001, 0x3000)) << "odd groups are private";
  EXPECT_TRUE(is_identifying_dicom_attribute(0x5010, 0x1234));   // any curve element
  EXPECT_FALSE(is_identifying_dicom_attribute(0x0028, 0x0010));  // Rows
  EXPECT_FALSE(is_identifying_dicom_attribute(0x0008, 0x0060));  // Modality
}

}  // namespace
}  // namespace xrs
