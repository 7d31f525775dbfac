// A DICOM file that carries every attribute of the PS3.15 Basic Profile list
// (imaging/dicom_deid.h) with a value that says where it came from, for the tests that check that
// no identifying value leaves the server, the catalog, a log or an export.
//
//   std::string bytes = xrs::testing::phi_dicom(64, 48);
//   // every text value contains kPhiMarker: search any output for it
//
// Explicit VR Little Endian, MONOCHROME2, 16 bits allocated, 12 stored, a gradient. Text values
// are "<kPhiMarker><gggg><eeee>" (the patient name "DOE^JANE^<marker>00100010"); sequences hold
// one item with a Code Meaning made the same way; binary values (OB/OW) hold the marker's bytes.
// Values of VR US are the only ones without the marker (two bytes cannot hold it).
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>

#include "imaging/dicom_deid.h"

namespace xrs::testing {

inline constexpr char kPhiMarker[] = "XRSPHI";

namespace phi_internal {

inline std::string le16(uint16_t v) {
  return {static_cast<char>(v & 0xff), static_cast<char>(v >> 8)};
}
inline std::string le32(uint32_t v) {
  return le16(static_cast<uint16_t>(v & 0xffff)) + le16(static_cast<uint16_t>(v >> 16));
}
inline bool long_form(const std::string& vr) {
  return vr == "OB" || vr == "OW" || vr == "OF" || vr == "SQ" || vr == "UT" || vr == "UN" ||
         vr == "UC" || vr == "UR" || vr == "OD" || vr == "OL";
}
inline std::string element(uint16_t group, uint16_t elem, const std::string& vr,
                           std::string value) {
  if (value.size() % 2) value += (vr == "UI" || vr == "OB") ? '\0' : ' ';
  std::string out = le16(group) + le16(elem) + vr;
  out += long_form(vr) ? le16(0) + le32(static_cast<uint32_t>(value.size()))
                       : le16(static_cast<uint16_t>(value.size()));
  return out + value;
}
inline std::string marker_for(uint16_t group, uint16_t elem) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04X%04X", group, elem);
  return std::string(kPhiMarker) + buf;
}

}  // namespace phi_internal

inline std::string phi_dicom(int columns, int rows) {
  using namespace phi_internal;
  std::map<uint32_t, std::string> data;  // tag -> encoded element, in tag order
  auto put = [&](uint16_t g, uint16_t e, const std::string& vr, const std::string& value) {
    data[(uint32_t(g) << 16) | e] = element(g, e, vr, value);
  };
  std::string media_instance;
  for (const DicomAttribute& a : identifying_dicom_attributes()) {
    const std::string vr(a.vr);
    uint16_t e = a.element;
    if (a.group == 0x0000 || a.group >= 0x7FE0 || vr == "US") continue;  // not in a file body
    if (a.repeat == DicomAttribute::Repeat::kEvenGroupsAnyElement) e = 0x3000;
    const std::string mark = marker_for(a.group, e);
    if (a.group == 0x0002) {
      media_instance = mark;
      continue;
    }
    if (vr == "SQ") {
      const std::string item_body = element(0x0008, 0x0104, "LO", mark);
      const std::string item =
          le16(0xFFFE) + le16(0xE000) + le32(static_cast<uint32_t>(item_body.size())) + item_body;
      put(a.group, e, vr, item);
    } else if (a.keyword == "PatientName") {
      put(a.group, e, vr, "DOE^JANE^" + mark);
    } else {
      put(a.group, e, vr, mark);
    }
  }
  put(0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.1.1");  // Digital X-Ray Image Storage
  put(0x0008, 0x0060, "CS", "DX");
  put(0x0028, 0x0002, "US", le16(1));
  put(0x0028, 0x0004, "CS", "MONOCHROME2");
  put(0x0028, 0x0010, "US", le16(static_cast<uint16_t>(rows)));
  put(0x0028, 0x0011, "US", le16(static_cast<uint16_t>(columns)));
  put(0x0028, 0x0100, "US", le16(16));
  put(0x0028, 0x0101, "US", le16(12));
  put(0x0028, 0x0102, "US", le16(11));
  put(0x0028, 0x0103, "US", le16(0));
  std::string pixels;
  for (int y = 0; y < rows; ++y) {
    for (int x = 0; x < columns; ++x) {
      pixels += le16(static_cast<uint16_t>((x * 4095 / std::max(1, columns - 1) + y * 7) & 0x0FFF));
    }
  }
  put(0x7FE0, 0x0010, "OW", pixels);

  const std::string meta = element(0x0002, 0x0001, "OB", std::string("\0\1", 2)) +
                           element(0x0002, 0x0002, "UI", "1.2.840.10008.5.1.4.1.1.1.1") +
                           element(0x0002, 0x0003, "UI", media_instance) +
                           element(0x0002, 0x0010, "UI", "1.2.840.10008.1.2.1");
  std::string out = std::string(128, '\0') + "DICM" +
                    element(0x0002, 0x0000, "UL", le32(static_cast<uint32_t>(meta.size()))) + meta;
  for (const auto& [tag, bytes] : data) out += bytes;
  return out;
}

}  // namespace xrs::testing
