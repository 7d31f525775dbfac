// Writes a small DICOM (support/phi_dicom.h: 96 x 80, 16 bits, every identifying attribute set)
// to the path given, for the browser tests' DICOM upload where ../shared's specimen is absent.
// usage: xrs_write_test_dicom OUT.dcm
#include <cstdio>
#include <fstream>

#include "support/phi_dicom.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: xrs_write_test_dicom OUT.dcm\n");
    return 2;
  }
  std::ofstream out(argv[1], std::ios::binary | std::ios::trunc);
  out << xrs::testing::phi_dicom(96, 80);
  out.close();
  if (!out) {
    std::fprintf(stderr, "xrs_write_test_dicom: cannot write %s\n", argv[1]);
    return 1;
  }
  return 0;
}
