#include "http_request_text.h"

#include <cctype>
#include <string>

namespace xrs::fuzz {
namespace {

// The next line of `text` from *pos (without its LF or CRLF); advances *pos past it.
std::string_view next_line(std::string_view text, size_t* pos) {
  const size_t begin = *pos;
  size_t end = text.find('\n', begin);
  if (end == std::string_view::npos) {
    *pos = text.size();
    end = text.size();
  } else {
    *pos = end + 1;
  }
  std::string_view line = text.substr(begin, end - begin);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The value of parameter `name` in a header value like `form-data; name="file"; filename=a.png`
// (the name compared case-insensitively, quotes removed), or "".
std::string header_param(std::string_view value, std::string_view name) {
  size_t pos = value.find(';');
  while (pos != std::string_view::npos) {
    const size_t next = value.find(';', pos + 1);
    const std::string_view param = trim(value.substr(pos + 1, next - pos - 1));
    const size_t eq = param.find('=');
    if (eq != std::string_view::npos && iequals(trim(param.substr(0, eq)), name)) {
      std::string_view v = trim(param.substr(eq + 1));
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      return std::string(v);
    }
    pos = next;
  }
  return {};
}

void parse_headers(std::string_view text, size_t* pos,
                   std::vector<std::pair<std::string, std::string>>* headers) {
  while (*pos < text.size()) {
    const std::string_view line = next_line(text, pos);
    if (line.empty()) return;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    headers->emplace_back(std::string(trim(line.substr(0, colon))),
                          std::string(trim(line.substr(colon + 1))));
  }
}

void parse_multipart(std::string_view body, std::string_view boundary, HttpRequest* request) {
  const std::string delimiter = "--" + std::string(boundary);
  size_t pos = body.find(delimiter);
  while (pos != std::string_view::npos) {
    pos += delimiter.size();
    if (body.substr(pos, 2) == "--") return;  // the closing delimiter
    next_line(body, &pos);                    // the rest of the delimiter line
    std::vector<std::pair<std::string, std::string>> headers;
    parse_headers(body, &pos, &headers);
    const size_t end = body.find(delimiter, pos);
    if (end == std::string_view::npos) return;  // cut off: dropped
    std::string_view content = body.substr(pos, end - pos);
    // The line end before the delimiter belongs to the delimiter.
    if (content.ends_with("\r\n")) {
      content.remove_suffix(2);
    } else if (content.ends_with("\n")) {
      content.remove_suffix(1);
    }
    FormPart part;
    for (const auto& [name, value] : headers) {
      if (iequals(name, "Content-Disposition")) {
        part.name = header_param(value, "name");
        part.filename = header_param(value, "filename");
      } else if (iequals(name, "Content-Type")) {
        part.content_type = value;
      }
    }
    part.content = std::string(content);
    request->form.push_back(std::move(part));
    pos = end;
  }
}

}  // namespace

std::string percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 &&
        hex_value(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
      i += 2;
    } else if (text[i] == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += text[i];
    }
  }
  return out;
}

HttpRequest parse_request_text(std::string_view text) {
  HttpRequest request;
  size_t pos = 0;
  const std::string_view first = next_line(text, &pos);
  const size_t space = first.find(' ');
  request.method = std::string(first.substr(0, space));
  std::string_view target;
  if (space != std::string_view::npos) {
    target = first.substr(space + 1);
    target = target.substr(0, target.find(' '));
  }
  const size_t question = target.find('?');
  request.path = percent_decode(target.substr(0, question), /*plus_is_space=*/false);
  if (question != std::string_view::npos) {
    std::string_view query = target.substr(question + 1);
    while (!query.empty()) {
      const size_t amp = query.find('&');
      const std::string_view pair = query.substr(0, amp);
      const size_t eq = pair.find('=');
      request.query.emplace_back(
          percent_decode(pair.substr(0, eq), true),
          eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1), true));
      if (amp == std::string_view::npos) break;
      query.remove_prefix(amp + 1);
    }
  }
  parse_headers(text, &pos, &request.headers);
  const std::string_view body = text.substr(pos);

  const std::string_view type = request.header("Content-Type").value_or("");
  const std::string boundary = header_param(type, "boundary");
  const std::string_view media = trim(type.substr(0, type.find(';')));
  if (iequals(media, "multipart/form-data") && !boundary.empty()) {
    parse_multipart(body, boundary, &request);
  } else {
    request.body = std::string(body);
  }
  return request;
}

}  // namespace xrs::fuzz
