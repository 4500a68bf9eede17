#include "wasm/http_host.h"

#include <gtest/gtest.h>

#include "core/json_dom.h"
#include "net/http_server.h"

namespace pgcdc::wasm {
namespace {

TEST(HttpHostTest, ParsesRequestsAndRefusesBadOnes) {
  auto r = ParseHttpRequest(
      R"({"url":"http://127.0.0.1:1/x","headers":{"X-A":"1"},"body":"hi","method":"post"})");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->method, "POST");
  EXPECT_EQ(r->body, "hi");
  ASSERT_EQ(r->headers.size(), 1u);
  EXPECT_EQ(r->headers[0].first, "X-A");
  auto get = ParseHttpRequest(R"({"url":"http://h/"})");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->method, "GET");
  for (const char* bad :
       {"", "[]", R"({"method":"GET"})", R"({"url":1})", R"({"url":"http://h/","method":"G T"})",
        R"({"url":"http://h/","method":"HEAD"})",
        R"({"url":"http://h/","headers":{"X":"a\r\nB: c"}})",
        R"({"url":"http://h/","headers":{"Host":"evil"}})",
        R"({"url":"http://h/","headers":{"Bad Name":"v"}})",
        R"({"url":"http://h/","headers":[]})"}) {
    EXPECT_FALSE(ParseHttpRequest(bad)) << bad;
  }
}

TEST(HttpHostTest, AllowListMatchesOrigins) {
  const std::vector<std::string> allow = {"http://127.0.0.1:8080", "https://API.example.com/v1/"};
  EXPECT_TRUE(HttpAllowed("http://127.0.0.1:8080/anything?q=1", allow));
  EXPECT_FALSE(HttpAllowed("http://127.0.0.1:8081/", allow));
  EXPECT_FALSE(HttpAllowed("https://127.0.0.1:8080/", allow));  // other scheme
  EXPECT_TRUE(HttpAllowed("https://api.example.com/v1/items", allow));
  EXPECT_TRUE(HttpAllowed("https://api.example.com:443/v1/items", allow));
  EXPECT_FALSE(HttpAllowed("https://api.example.com/v2/items", allow));
  EXPECT_FALSE(HttpAllowed("https://api.example.com.evil.org/v1/", allow));
  EXPECT_FALSE(HttpAllowed("http://127.0.0.1:8080/", {}));
  EXPECT_TRUE(HttpAllowed("http://anything:1/", {"*"}));
  EXPECT_FALSE(HttpAllowed("ftp://x/", {"*"}));
}

TEST(HttpHostTest, ResponsesAreJsonEvenForBinaryBodies) {
  auto dom = json::ParseDom(HttpResponseJson(200, std::string("a\xff\"b", 4)));
  ASSERT_TRUE(dom);
  EXPECT_EQ(dom->at("status").as_int64(), 200);
  EXPECT_EQ(std::string(dom->at("body").as_string()), "a\xEF\xBF\xBD\"b");
  EXPECT_TRUE(dom->at("headers").as_object().empty());
}

TEST(HttpHostTest, MakesRequestsToAllowedLocalServers) {
  net::HttpServer server("test");
  server.Handle("POST", "/echo", [](const net::HttpRequest& req) {
    net::HttpResponse r;
    r.status = 201;
    r.body = req.method + " " + req.body + " " + req.headers.at("x-token");
    return r;
  });
  auto bound = server.Start(net::ListenAddress{"127.0.0.1", 0});
  ASSERT_TRUE(bound) << bound.error().message();
  const std::string base = "http://" + *bound;
  const HttpCall call = MakeHttpHost({base}, std::chrono::seconds(5));
  auto http = [&call](std::string_view request) { return HttpJsonCall(call, request); };
  auto ok = json::ParseDom(http(R"({"method":"POST","url":")" + base +
                                R"(/echo","headers":{"X-Token":"t1"},"body":"{\"a\":1}"})"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->at("status").as_int64(), 201);
  EXPECT_EQ(std::string(ok->at("body").as_string()), "POST {\"a\":1} t1");
  auto missing = json::ParseDom(http(R"({"url":")" + base + R"(/nope"})"));
  EXPECT_EQ(missing->at("status").as_int64(), 404);
  // The structured form (Extism's http_request) keeps bytes that are not UTF-8.
  HttpRequest binary{
      .method = "POST", .url = base + "/echo", .body = std::string("\xff\x00\x01", 3)};
  binary.headers.emplace_back("x-token", "t2");
  HttpReply raw = call(binary);
  EXPECT_EQ(raw.status, 201);
  EXPECT_EQ(raw.body, std::string("POST \xff\x00\x01 t2", 11));
  // Not on the allow-list: not sent.
  auto refused = json::ParseDom(
      HttpJsonCall(MakeHttpHost({}, std::chrono::seconds(5)), R"({"url":")" + base + R"(/echo"})"));
  EXPECT_EQ(refused->at("status").as_int64(), 0);
  EXPECT_NE(std::string(refused->at("body").as_string()).find("not allowed"), std::string::npos);
  EXPECT_EQ(MakeHttpHost({}, std::chrono::seconds(5))(binary).status, 0);
  server.Stop();
  // Transport errors are a status of 0 with the reason.
  auto down = json::ParseDom(http(R"({"method":"POST","url":")" + base + R"(/echo"})"));
  EXPECT_EQ(down->at("status").as_int64(), 0);
  EXPECT_FALSE(std::string(down->at("body").as_string()).empty());
  auto bad = json::ParseDom(http("not json"));
  EXPECT_EQ(bad->at("status").as_int64(), 0);
}

}  // namespace
}  // namespace pgcdc::wasm
