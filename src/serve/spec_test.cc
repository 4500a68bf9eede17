#include "serve/spec.h"

#include <gtest/gtest.h>

#include "core/json_dom.h"

namespace pgcdc::serve {
namespace {

PipelineSpec SpecFrom(const std::string& json) {
  auto v = json::ParseDom(json);
  EXPECT_TRUE(v) << json;
  auto s = ParseSpec(*v, "test");
  EXPECT_TRUE(s) << (s ? "" : s.error().message());
  return *s;
}

std::string Listen(const std::string& json, std::vector<std::string>* errors = nullptr,
                   std::vector<std::string>* warnings = nullptr) {
  std::vector<std::string> e, w;
  std::string doc = ListenDocument(SpecFrom(json), e, w);
  if (errors) *errors = e;
  if (warnings) *warnings = w;
  return doc;
}

TEST(ServeSpec, Names) {
  EXPECT_TRUE(ValidPipelineName("orders-to_kafka.v2"));
  EXPECT_FALSE(ValidPipelineName(""));
  EXPECT_FALSE(ValidPipelineName(".hidden"));
  EXPECT_FALSE(ValidPipelineName("a/b"));
  EXPECT_FALSE(ValidPipelineName("a b"));
  EXPECT_FALSE(ValidPipelineName(std::string(65, 'a')));
  auto missing = ParseSpec(*json::ParseDom(R"({"adapters":["stdout"]})"), "pipelines[0]");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(), "pipelines[0]: name is required (a string)");
  auto bad = ParseSpec(*json::ParseDom(R"({"name":"x","enabled":"yes"})"), "p");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("enabled must be true or false"), std::string::npos);
  EXPECT_FALSE(ParseSpec(*json::ParseDom("[1]"), "p"));
}

// Same JSON value (key order aside).
void ExpectSameJson(const std::string& got, const std::string& want) {
  auto g = json::ParseDom(got);
  auto w = json::ParseDom(want);
  ASSERT_TRUE(g && w);
  EXPECT_EQ(*g, *w) << got;
}

TEST(ServeSpec, ListenShapePassesThrough) {
  ExpectSameJson(
      Listen(R"({"name":"a","enabled":false,"adapters":["stdout"],"bus":{"mode":"reliable"}})"),
      R"({"adapters":["stdout"],"bus":{"mode":"reliable"}})");
}

TEST(ServeSpec, SpecShapeIsTranslated) {
  std::vector<std::string> errors, warnings;
  const std::string doc = Listen(
      R"({"name":"a","detector":{"type":"wal","config":{"database_url":"postgres://x","publication":"p"}},
          "adapters":[{"name":"hook","type":"webhook","config":{"webhook":{"url":"http://h"}}},
                      {"type":"stdout"}],
          "transforms":[{"type":"drop_columns","config":{"columns":["secret"]}}]})",
      &errors, &warnings);
  EXPECT_TRUE(errors.empty());
  ExpectSameJson(
      doc, R"({"detector":{"type":"wal"},"adapters":["webhook","stdout"],)"
           R"("transforms":{"global":[{"type":"drop_columns","columns":["secret"]}]},)"
           R"("database_url":"postgres://x","publication":"p","webhook":{"url":"http://h"}})");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("name \"hook\" is not used"), std::string::npos);
}

TEST(ServeSpec, ShapeErrors) {
  std::vector<std::string> errors;
  Listen(R"({"name":"a","database_url":"x","detector":{"type":"wal","config":{"database_url":"y"}},
             "adapters":[{"type":"stdout"},{"type":"stdout"},{"typ":"x"}]})",
         &errors);
  ASSERT_EQ(errors.size(), 4u);
  EXPECT_EQ(errors[0], "database_url: set twice (in a config map and beside it)");
  EXPECT_EQ(errors[1], "adapters[1]: a second stdout adapter (one of each type per pipeline)");
  EXPECT_EQ(errors[2], "adapters[2].typ: unknown key (known: name, type, config)");
  EXPECT_EQ(errors[3], "adapters[2]: type is required");
  Listen(R"({"name":"a","detector":{"config":[1]}})", &errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "detector.config: expected a map of settings");
}

TEST(ServeSpec, YamlScalarsAreTyped) {
  auto v = YamlToJson(
      "a: 1\nb: -2\nc: 1.5\nd: true\ne: ~\nf: 5s\ng: '7'\nh: 0755\ni: [x, \"y\"]\nj: {k: false}\n",
      "t");
  ASSERT_TRUE(v);
  ExpectSameJson(json::SerializeDom(*v),
                 R"({"a":1,"b":-2,"c":1.5E0,"d":true,"e":null,"f":"5s","g":"7","h":"0755",)"
                 R"("i":["x","y"],"j":{"k":false}})");
  auto bad = YamlToJson("a: [1,\n", "file.yaml");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message().rfind("file.yaml:", 0), 0u);
}

TEST(ServeSpec, ServeFile) {
  auto f = ParseServeFile(R"(
addr: 127.0.0.1:9000
state_file: /tmp/s.json
pipelines:
  - name: one
    adapters: [stdout]
  - {name: two, enabled: false}
)",
                          "serve.yaml");
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(f->addr, "127.0.0.1:9000");
  EXPECT_EQ(f->state_file, "/tmp/s.json");
  ASSERT_EQ(f->pipelines.size(), 2u);
  EXPECT_TRUE(EnabledAtBoot(f->pipelines[0]));
  EXPECT_FALSE(EnabledAtBoot(f->pipelines[1]));
  auto empty = ParseServeFile("", "serve.yaml");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->addr, "127.0.0.1:8080");
  EXPECT_TRUE(empty->pipelines.empty());
}

TEST(ServeSpec, ServeFileErrors) {
  auto f = ParseServeFile(R"(
adr: x
state_file: [1]
pipelines:
  - name: one
  - name: one
  - adapters: [stdout]
)",
                          "serve.yaml");
  ASSERT_FALSE(f);
  const std::string msg = f.error().message();
  EXPECT_NE(msg.find("serve.yaml: unknown key adr (did you mean addr?)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("serve.yaml: state_file: expected a string"), std::string::npos) << msg;
  EXPECT_NE(msg.find("pipelines[1]: a second pipeline named one"), std::string::npos) << msg;
  EXPECT_NE(msg.find("pipelines[2]: name is required"), std::string::npos) << msg;
  EXPECT_FALSE(ParseServeFile("- 1\n", "s.yaml"));
  EXPECT_FALSE(ParseServeFile("pipelines: {a: 1}\n", "s.yaml"));
}

}  // namespace
}  // namespace pgcdc::serve
