// Replicas (serve --read-only) through the built binary: a replica serves an index while clients
// query it in a loop and a writer (`index`, incremental) adds images to that index. The writer
// is not blocked (it succeeds while the replica serves), every request of the clients gets 200,
// and the replica switches to the new generation without a restart: /api/health reports the
// newer generation and the searches find the added images. A replica has no write route: other
// methods than GET/HEAD/POST are refused with a 4xx.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "e2e/subprocess.h"
#include "pipeline/dataset_copy.h"

namespace xrs {
namespace {

using testing::describe;
using testing::ProcessResult;
using testing::run_cli;
using testing::run_process;

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string quote(const std::string& s) {
  return "'" + s + "'";
}

ProcessResult curl(const std::string& args) {
  return run_process({"/bin/sh", "-c", "curl -sS -i --max-time 60 " + args});
}

int http_status(const ProcessResult& r) {
  const size_t at = r.out.rfind("HTTP/1.");
  if (at == std::string::npos || r.out.size() < at + 12) return -1;
  return std::atoi(r.out.c_str() + at + 9);
}

nlohmann::json body_json(const ProcessResult& r) {
  const size_t at = r.out.find("\r\n\r\n");
  if (at == std::string::npos) return nullptr;
  return nlohmann::json::parse(r.out.substr(at + 4), nullptr, /*allow_exceptions=*/false);
}

class ReplicaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    XRS_REQUIRE_DATASET();
    if (run_process({"/bin/sh", "-c", "command -v curl"}).exit_code != 0) {
      GTEST_SKIP() << "skipped: curl is needed (scripts/install-deps.sh)";
    }
  }
};

TEST_F(ReplicaTest, SwitchesToNewGenerationsUnderLoadWithoutAFailedRequest) {
  auto data = testing::make_dataset_copy("replica", 2);
  const std::string index = testing::scratch_dir("replica-idx") + "/idx";
  const std::vector<std::string> index_args = {
      "index", data.dir(), "--model", testing::tiny_model_dir(), "--index", index, "--batch", "2"};
  ProcessResult r = run_cli(index_args);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const size_t before = data.rows().size();

  const int port = free_port();
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  auto server = testing::Subprocess::start(
      {testing::cli_path(), "serve", "--index", index, "--port", std::to_string(port),
       "--read-only", "--reload-interval-ms", "100", "--rate-limit", "0", "--threads", "4"});
  ASSERT_TRUE(server);
  nlohmann::json health;
  for (int i = 0; i < 300 && health.is_null(); ++i) {
    ProcessResult h = curl(quote(base + "/api/health"));
    if (h.exit_code == 0 && http_status(h) == 200) health = body_json(h);
    if (health.is_null()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_FALSE(health.is_null()) << "the replica did not come up";
  ASSERT_EQ(health["images"], before) << health.dump();
  ASSERT_TRUE(health["index"]["read_only"].get<bool>()) << health.dump();
  const uint64_t generation0 = health["index"]["generation"].get<uint64_t>();
  EXPECT_GT(generation0, 0u) << health.dump();
  EXPECT_EQ(health["index"]["reloads"], 0) << health.dump();

  // A replica has no write routes: other methods are refused, clearly, with a 4xx.
  for (const char* method : {"PUT", "DELETE", "PATCH"}) {
    for (const char* route : {"/api/search/text", "/api/health", "/api/images/1"}) {
      ProcessResult w = curl("-X " + std::string(method) + " " + quote(base + route));
      EXPECT_EQ(http_status(w), 405) << method << " " << route << "\n" << w.out.substr(0, 400);
      EXPECT_NE(w.out.find("method_not_allowed"), std::string::npos) << w.out.substr(0, 400);
    }
  }

  // Clients query in a loop (text searches that list every image) until told to stop.
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::vector<std::string> failures;
  std::set<std::string> seen_names;  // in any answer
  std::atomic<int> requests{0};
  const std::string search = "-H 'Content-Type: application/json' -d " +
                             quote(R"({"query":"an x-ray","min_score":-1,"k":20})") + " " +
                             quote(base + "/api/search/text");
  auto client = [&] {
    while (!stop.load()) {
      ProcessResult q = curl(search);
      ++requests;
      const nlohmann::json j = body_json(q);
      std::lock_guard<std::mutex> lock(mutex);
      if (q.exit_code != 0 || http_status(q) != 200 || !j.is_object() || !j.contains("results")) {
        failures.push_back(q.err + q.out.substr(0, 400));
        continue;
      }
      for (const auto& hit : j["results"]) seen_names.insert(hit["image_name"].get<std::string>());
    }
  };
  std::vector<std::thread> clients;
  for (int i = 0; i < 3; ++i) clients.emplace_back(client);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));

  // The writer adds images to the served index while the clients query it: it is not blocked.
  const auto extra = testing::rows_not_copied(2);
  ASSERT_GE(extra.size(), 3u);
  std::set<std::string> added;
  for (size_t i = 0; i < 3; ++i) {
    data.add(extra[i]);
    added.insert(extra[i].image_name);
  }
  data.write_metadata();
  r = run_cli(index_args);
  EXPECT_EQ(r.exit_code, 0) << describe(r);

  // The replica picks the new generation up by itself.
  bool switched = false;
  for (int i = 0; i < 300 && !switched; ++i) {
    ProcessResult h = curl(quote(base + "/api/health"));
    health = body_json(h);
    switched = health.is_object() && health["images"] == before + added.size();
    if (!switched) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(switched) << health.dump();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // queries on the new generation
  stop = true;
  for (std::thread& t : clients) t.join();

  EXPECT_GT(health["index"]["generation"].get<uint64_t>(), generation0) << health.dump();
  EXPECT_GE(health["index"]["reloads"].get<uint64_t>(), 1u) << health.dump();
  EXPECT_GT(requests.load(), 10) << "too few queries ran to mean anything";
  EXPECT_TRUE(failures.empty()) << failures.size() << " of " << requests.load()
                                << " requests failed, the first: " << failures.front();
  for (const std::string& name : added) {
    EXPECT_TRUE(seen_names.count(name)) << name << " was never found by the replica";
  }
  // A search now lists every image, old and new.
  ProcessResult q = curl(search);
  ASSERT_EQ(http_status(q), 200) << q.out.substr(0, 400);
  const nlohmann::json last = body_json(q);
  std::set<std::string> now;
  for (const auto& hit : last["results"]) now.insert(hit["image_name"].get<std::string>());
  EXPECT_EQ(now.size(), before + added.size());
  for (const std::string& name : added) EXPECT_TRUE(now.count(name)) << name;

  server->signal(SIGTERM);
  ProcessResult served = server->wait(std::chrono::seconds(30));
  EXPECT_EQ(served.exit_code, 0) << describe(served);
  EXPECT_NE(served.err.find("now serving index generation"), std::string::npos) << served.err;
  // Nothing in the index folder was written by the replica: it holds only the writer's files.
  for (const auto& entry : std::filesystem::directory_iterator(index)) {
    const std::string name = entry.path().filename().string();
    EXPECT_TRUE(name.rfind("catalog.sqlite", 0) == 0) << name;
  }
}

}  // namespace
}  // namespace xrs
