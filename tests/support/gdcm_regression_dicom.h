// A DICOM file of the kind that made GDCM abort (issue 8): JPEG lossless transfer syntax with
// Bits Allocated 8 and Bits Stored 2 (High Bit 1). GDCM's JPEG codec asserts that an 8-bit frame
// stores 8 bits, so imaging/dicom.cpp refuses the combination before any codec runs ("Bits Stored 2
// with Bits Allocated 8 is not supported for JPEG transfer syntax ..."). The tests use
// ../shared/regressions/dicom-gdcm-assert-bits.dcm, the file that was found, where ../shared has
// it, and this one otherwise: the same attributes, made here.
//
//   std::string bytes = xrs::testing::gdcm_regression_dicom();
//   std::string path = xrs::testing::gdcm_regression_dicom_file();  // ../shared's, else this one
//
// Explicit VR Little Endian meta header, then the data set in JPEG lossless
// (1.2.840.10008.1.2.4.70): MONOCHROME2, 16 x 16, one encapsulated frame (an empty basic offset
// table and one fragment holding a JPEG's start marker, frame header and end marker).
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "support/phi_dicom.h"
#include "support/test_paths.h"

namespace xrs::testing {

inline std::string gdcm_regression_dicom() {
  using phi_internal::element;
  using phi_internal::le16;
  using phi_internal::le32;
  const std::string ts = "1.2.840.10008.1.2.4.70";  // JPEG lossless, first-order prediction
  const std::string sop_class = "1.2.840.10008.5.1.4.1.1.7";  // Secondary Capture
  const std::string meta = element(0x0002, 0x0001, "OB", std::string("\0\1", 2)) +
                           element(0x0002, 0x0002, "UI", sop_class) +
                           element(0x0002, 0x0003, "UI", "1.2.3.4.5.6.7.8.9") +
                           element(0x0002, 0x0010, "UI", ts);
  std::string out = std::string(128, '\0') + "DICM" +
                    element(0x0002, 0x0000, "UL", le32(static_cast<uint32_t>(meta.size()))) + meta;
  out += element(0x0008, 0x0016, "UI", sop_class);
  out += element(0x0008, 0x0060, "CS", "OT");
  out += element(0x0028, 0x0002, "US", le16(1));
  out += element(0x0028, 0x0004, "CS", "MONOCHROME2");
  out += element(0x0028, 0x0010, "US", le16(16));
  out += element(0x0028, 0x0011, "US", le16(16));
  out += element(0x0028, 0x0100, "US", le16(8));
  out += element(0x0028, 0x0101, "US", le16(2));
  out += element(0x0028, 0x0102, "US", le16(1));
  out += element(0x0028, 0x0103, "US", le16(0));
  // Pixel Data, OB of undefined length: items (FFFE,E000), then the delimiter (FFFE,E0DD).
  // SOI, a lossless frame header (SOF3: 8-bit precision, 16 x 16, one component), EOI.
  const std::string fragment("\xFF\xD8\xFF\xC3\x00\x0B\x08\x00\x10\x00\x10\x01\x01\x11\x00\xFF\xD9",
                             17);
  out += le16(0x7FE0) + le16(0x0010) + "OB" + le16(0) + le32(0xFFFFFFFFu);
  out += le16(0xFFFE) + le16(0xE000) + le32(0);  // the basic offset table, empty
  out += le16(0xFFFE) + le16(0xE000) + le32(static_cast<uint32_t>(fragment.size())) + fragment;
  out += le16(0xFFFE) + le16(0xE0DD) + le32(0);
  return out;
}

// ../shared/regressions/dicom-gdcm-assert-bits.dcm where present, else gdcm_regression_dicom()
// written into the build tree.
inline std::string gdcm_regression_dicom_file() {
  namespace fs = std::filesystem;
  const std::string shared = shared_dir() + "/regressions/dicom-gdcm-assert-bits.dcm";
  if (fs::exists(shared)) return shared;
  const fs::path dir = fs::path(binary_dir()) / "test-assets";
  const fs::path path = dir / "gdcm-assert-bits.dcm";  // rewritten each time: never stale
  fs::create_directories(dir);
  const fs::path tmp = dir / ("gdcm-assert-bits.dcm.tmp" + std::to_string(::getpid()));
  std::ofstream(tmp, std::ios::binary | std::ios::trunc) << gdcm_regression_dicom();
  fs::rename(tmp, path);  // atomic: a concurrent test program writes the same bytes
  return path.string();
}

}  // namespace xrs::testing
