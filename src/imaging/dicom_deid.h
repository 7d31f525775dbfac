// The DICOM attributes that can identify a person: the Basic Application Level Confidentiality
// Profile of DICOM PS3.15 Annex E (Table E.1-1, the attributes with an action in the Basic
// Profile column), as one named table. docs/SECURITY.md prints the same list.
//
// How the project uses it (docs/SECURITY.md, "De-identification"):
//   - None of these attributes is ever read into DicomInfo (dicom.h): dicom_attributes_read()
//     lists every attribute the reader looks at, and a test checks that the two lists share
//     nothing. Hence nothing identifying reaches the catalog, the API, a log or an export.
//   - The server never sends a DICOM file unless started with --serve-originals: it renders
//     the pixels to PNG (the same windowing as indexing).
//   - The end-to-end test writes a DICOM file with every attribute of this table set to a
//     distinctive value, indexes and serves it, and searches every byte the project wrote or sent
//     for those values.
//
// Burned-in text (a name printed into the pixels) is not covered: no tag can remove it.
// Thread-safety: constant data.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace xrs {

struct DicomAttribute {
  uint16_t group = 0;
  uint16_t element = 0;
  std::string_view vr;       // the value representation (PS3.6), e.g. "PN"
  std::string_view keyword;  // PS3.6 keyword, e.g. "PatientName"
  // The Basic Profile action (PS3.15 Table E.1-1): "X" remove, "Z" empty, "D" dummy value,
  // "U" replace the UID, or a choice such as "X/Z/D".
  std::string_view action;
  // Repeating groups: kEvenGroups means every even group from `group` to group + 0xFE (60xx
  // overlays); kEvenGroupsAnyElement also every element of those groups (50xx curves).
  enum class Repeat { kNo, kEvenGroups, kEvenGroupsAnyElement };
  Repeat repeat = Repeat::kNo;

  bool matches(uint16_t g, uint16_t e) const {
    if (repeat == Repeat::kNo) return g == group && e == element;
    const bool in_range = g >= group && g <= group + 0xFE && (g & 1) == 0;
    return in_range && (repeat == Repeat::kEvenGroupsAnyElement || e == element);
  }
};

// Every attribute of the Basic Profile, ordered by tag.
std::span<const DicomAttribute> identifying_dicom_attributes();

// True when (group, element) is in identifying_dicom_attributes().
bool is_identifying_dicom_attribute(uint16_t group, uint16_t element);

}  // namespace xrs
