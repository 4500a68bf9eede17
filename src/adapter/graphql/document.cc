#include "adapter/graphql/document.h"

#include <algorithm>

#include "core/json.h"

namespace pgcdc::adapter::graphql {

namespace {

enum class Tok { kEnd, kPunct, kName, kInt, kFloat, kString };

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;  // punctuator, name, number text or decoded string
  uint32_t line = 1, column = 1;
};

// Thrown inside the parser, turned into DocumentError at the boundary.
struct Failure {
  DocumentError error;
};

bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsNameContinue(char c) { return IsNameStart(c) || IsDigit(c); }

// Shown in messages: names and punctuators as is, strings and numbers by kind.
std::string Describe(const Token& t) {
  switch (t.kind) {
    case Tok::kEnd:
      return "<EOF>";
    case Tok::kString:
      return "String";
    case Tok::kInt:
    case Tok::kFloat:
      return "Number \"" + t.text + "\"";
    case Tok::kName:
      return "Name \"" + t.text + "\"";
    case Tok::kPunct:
      return "\"" + t.text + "\"";
  }
  return "?";
}

class Lexer {
 public:
  explicit Lexer(std::string_view src) : s_(src) {
    if (s_.starts_with("\xEF\xBB\xBF")) pos_ = 3;
  }

  Token Next() {
    SkipIgnored();
    Token t;
    t.line = line_;
    t.column = Column();
    if (pos_ >= s_.size()) return t;
    const char c = s_[pos_];
    if (std::string_view("!$&()[]{}:=@|").find(c) != std::string_view::npos) {
      ++pos_;
      t.kind = Tok::kPunct;
      t.text = std::string(1, c);
    } else if (c == '.') {
      if (s_.substr(pos_, 3) != "...") Fail(t, "Syntax Error: Unexpected \".\".");
      pos_ += 3;
      t.kind = Tok::kPunct;
      t.text = "...";
    } else if (IsNameStart(c)) {
      const size_t start = pos_;
      while (pos_ < s_.size() && IsNameContinue(s_[pos_])) ++pos_;
      t.kind = Tok::kName;
      t.text = std::string(s_.substr(start, pos_ - start));
    } else if (c == '-' || IsDigit(c)) {
      LexNumber(t);
    } else if (c == '"') {
      t.kind = Tok::kString;
      if (s_.substr(pos_, 3) == "\"\"\"") {
        LexBlockString(t);
      } else {
        LexString(t);
      }
    } else {
      Fail(t, "Syntax Error: Unexpected character.");
    }
    return t;
  }

 private:
  [[noreturn]] static void Fail(const Token& at, std::string message) {
    throw Failure{{std::move(message), at.line, at.column}};
  }

  uint32_t Column() const { return static_cast<uint32_t>(pos_ - line_start_ + 1); }

  void NewLine() {
    ++line_;
    line_start_ = pos_;
  }

  // Consumes a line terminator at pos_ (\n, \r\n or \r); false when none.
  bool LineTerminator() {
    if (pos_ >= s_.size()) return false;
    if (s_[pos_] == '\n') {
      ++pos_;
    } else if (s_[pos_] == '\r') {
      ++pos_;
      if (pos_ < s_.size() && s_[pos_] == '\n') ++pos_;
    } else {
      return false;
    }
    NewLine();
    return true;
  }

  void SkipIgnored() {
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c == ' ' || c == '\t' || c == ',') {
        ++pos_;
      } else if (LineTerminator()) {
      } else if (c == '#') {
        while (pos_ < s_.size() && s_[pos_] != '\n' && s_[pos_] != '\r') ++pos_;
      } else if (s_.substr(pos_, 3) == "\xEF\xBB\xBF") {
        pos_ += 3;
      } else {
        return;
      }
    }
  }

  void Digits(const Token& t) {
    if (pos_ >= s_.size() || !IsDigit(s_[pos_])) {
      Fail(t, "Syntax Error: Invalid number, expected digit.");
    }
    while (pos_ < s_.size() && IsDigit(s_[pos_])) ++pos_;
  }

  void LexNumber(Token& t) {
    const size_t start = pos_;
    if (s_[pos_] == '-') ++pos_;
    if (pos_ < s_.size() && s_[pos_] == '0') {
      ++pos_;
      if (pos_ < s_.size() && IsDigit(s_[pos_])) {
        Fail(t, "Syntax Error: Invalid number, unexpected digit after 0.");
      }
    } else {
      Digits(t);
    }
    t.kind = Tok::kInt;
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      Digits(t);
      t.kind = Tok::kFloat;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      Digits(t);
      t.kind = Tok::kFloat;
    }
    if (pos_ < s_.size() && (s_[pos_] == '.' || IsNameStart(s_[pos_]))) {
      Fail(t, "Syntax Error: Invalid number, expected digit.");
    }
    t.text = std::string(s_.substr(start, pos_ - start));
  }

  // \uXXXX at pos_ (after the backslash and 'u'); surrogate pairs combined.
  uint32_t UnicodeEscape(const Token& t) {
    auto hex4 = [&]() -> int32_t {
      if (pos_ + 4 > s_.size()) return -1;
      int32_t v = 0;
      for (size_t i = 0; i < 4; ++i) {
        const int d = json::HexValue(s_[pos_ + i]);
        if (d < 0) return -1;
        v = v * 16 + d;
      }
      pos_ += 4;
      return v;
    };
    const int32_t hi = hex4();
    if (hi < 0) Fail(t, "Syntax Error: Invalid Unicode escape sequence.");
    if (hi >= 0xDC00 && hi <= 0xDFFF) Fail(t, "Syntax Error: Invalid Unicode escape sequence.");
    if (hi < 0xD800 || hi > 0xDBFF) return static_cast<uint32_t>(hi);
    if (s_.substr(pos_, 2) != "\\u") Fail(t, "Syntax Error: Invalid Unicode escape sequence.");
    pos_ += 2;
    const int32_t lo = hex4();
    if (lo < 0xDC00 || lo > 0xDFFF) Fail(t, "Syntax Error: Invalid Unicode escape sequence.");
    return 0x10000 + ((static_cast<uint32_t>(hi) - 0xD800) << 10) +
           (static_cast<uint32_t>(lo) - 0xDC00);
  }

  void LexString(Token& t) {
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (pos_ >= s_.size() || s_[pos_] == '\n' || s_[pos_] == '\r') {
        Fail(t, "Syntax Error: Unterminated string.");
      }
      const char c = s_[pos_];
      if (c == '"') {
        ++pos_;
        break;
      }
      if (c != '\\') {
        const size_t n = json::Utf8Length(s_, pos_);
        if (n == 0) Fail(t, "Syntax Error: Invalid UTF-8 in string.");
        out.append(s_.substr(pos_, n));
        pos_ += n;
        continue;
      }
      ++pos_;
      if (pos_ >= s_.size()) Fail(t, "Syntax Error: Unterminated string.");
      const char e = s_[pos_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out.push_back(e);
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u':
          json::AppendUtf8(out, UnicodeEscape(t));
          break;
        default:
          Fail(t, "Syntax Error: Invalid character escape sequence.");
      }
    }
    t.text = std::move(out);
  }

  void LexBlockString(Token& t) {
    pos_ += 3;
    std::string raw;
    while (true) {
      if (pos_ >= s_.size()) Fail(t, "Syntax Error: Unterminated string.");
      if (s_.substr(pos_, 3) == "\"\"\"") {
        pos_ += 3;
        break;
      }
      if (s_.substr(pos_, 4) == "\\\"\"\"") {
        raw += "\"\"\"";
        pos_ += 4;
      } else if (s_[pos_] == '\n' || s_[pos_] == '\r') {
        LineTerminator();
        raw.push_back('\n');
      } else {
        const size_t n = json::Utf8Length(s_, pos_);
        if (n == 0) Fail(t, "Syntax Error: Invalid UTF-8 in string.");
        raw.append(s_.substr(pos_, n));
        pos_ += n;
      }
    }
    t.text = BlockStringValue(raw);
  }

  // The spec's BlockStringValue(): common indentation removed from every
  // line but the first, leading and trailing blank lines dropped.
  static std::string BlockStringValue(const std::string& raw) {
    std::vector<std::string> lines;
    size_t start = 0;
    for (size_t i = 0; i <= raw.size(); ++i) {
      if (i == raw.size() || raw[i] == '\n') {
        lines.push_back(raw.substr(start, i - start));
        start = i + 1;
      }
    }
    auto indent = [](const std::string& l) { return l.find_first_not_of(" \t"); };
    size_t common = std::string::npos;
    for (size_t i = 1; i < lines.size(); ++i) {
      const size_t n = indent(lines[i]);
      if (n != std::string::npos) common = std::min(common, n);
    }
    if (common != std::string::npos) {
      for (size_t i = 1; i < lines.size(); ++i)
        lines[i].erase(0, std::min(common, lines[i].size()));
    }
    auto blank = [&](const std::string& l) { return indent(l) == std::string::npos; };
    size_t first = 0;
    size_t last = lines.size();
    while (first < last && blank(lines[first])) ++first;
    while (last > first && blank(lines[last - 1])) --last;
    std::string out;
    for (size_t i = first; i < last; ++i) {
      if (i > first) out.push_back('\n');
      out += lines[i];
    }
    return out;
  }

  std::string_view s_;
  size_t pos_ = 0;
  uint32_t line_ = 1;
  size_t line_start_ = 0;
};

class Parser {
 public:
  explicit Parser(std::string_view text) : lex_(text) { Advance(); }

  std::vector<Operation> Document() {
    std::vector<Operation> ops;
    do {
      ops.push_back(Definition());
    } while (tok_.kind != Tok::kEnd);
    return ops;
  }

 private:
  [[noreturn]] void Fail(const Token& at, std::string message) const {
    throw Failure{{std::move(message), at.line, at.column}};
  }
  [[noreturn]] void Unexpected() const {
    Fail(tok_, "Syntax Error: Unexpected " + Describe(tok_) + ".");
  }

  void Advance() { tok_ = lex_.Next(); }
  bool Peek(std::string_view punct) const { return tok_.kind == Tok::kPunct && tok_.text == punct; }
  bool Skip(std::string_view punct) {
    if (!Peek(punct)) return false;
    Advance();
    return true;
  }
  void Expect(std::string_view punct) {
    if (!Skip(punct)) {
      Fail(tok_,
           "Syntax Error: Expected \"" + std::string(punct) + "\", found " + Describe(tok_) + ".");
    }
  }
  std::string Name() {
    if (tok_.kind != Tok::kName) {
      Fail(tok_, "Syntax Error: Expected Name, found " + Describe(tok_) + ".");
    }
    std::string n = std::move(tok_.text);
    Advance();
    return n;
  }
  void Enter(const Token& at) {
    if (++depth_ > kMaxDepth) {
      Fail(at, "Document nesting exceeds " + std::to_string(kMaxDepth) + " levels.");
    }
  }

  Operation Definition() {
    Operation op;
    if (Peek("{")) {  // query shorthand
      op.type = "query";
      op.selections = SelectionSet();
      return op;
    }
    if (tok_.kind != Tok::kName) Unexpected();
    if (tok_.text == "fragment") Fail(tok_, "Fragments are not supported.");
    if (tok_.text != "query" && tok_.text != "mutation" && tok_.text != "subscription") {
      Unexpected();
    }
    op.type = Name();
    if (tok_.kind == Tok::kName) op.name = Name();
    if (Skip("(")) {
      do {
        op.variables.push_back(VariableDef());
      } while (!Skip(")"));
    }
    NoDirectives();
    op.selections = SelectionSet();
    return op;
  }

  VariableDefinition VariableDef() {
    VariableDefinition v;
    Expect("$");
    v.name = Name();
    Expect(":");
    v.type = Type();
    if (Skip("=")) {
      v.has_default = true;
      v.default_value = ParseValue(/*is_const=*/true);
    }
    NoDirectives();
    return v;
  }

  std::string Type() {
    const Token at = tok_;
    std::string t;
    if (Skip("[")) {
      Enter(at);
      t = "[" + Type() + "]";
      --depth_;
      Expect("]");
    } else {
      t = Name();
    }
    if (Skip("!")) t += "!";
    return t;
  }

  void NoDirectives() const {
    if (Peek("@")) Fail(tok_, "Directives are not supported.");
  }

  std::vector<Field> SelectionSet() {
    const Token at = tok_;
    Expect("{");
    Enter(at);
    std::vector<Field> fields;
    do {
      if (Peek("...")) Fail(tok_, "Fragments are not supported.");
      fields.push_back(ParseField());
    } while (!Skip("}"));
    --depth_;
    return fields;
  }

  Field ParseField() {
    Field f;
    f.line = tok_.line;
    f.column = tok_.column;
    f.name = Name();
    if (Skip(":")) {
      f.alias = std::move(f.name);
      f.name = Name();
    } else {
      f.alias = f.name;
    }
    if (Skip("(")) {
      do {
        Argument a;
        a.name = Name();
        Expect(":");
        a.value = ParseValue(/*is_const=*/false);
        f.arguments.push_back(std::move(a));
      } while (!Skip(")"));
    }
    NoDirectives();
    if (Peek("{")) {
      f.has_selection_set = true;
      f.selections = SelectionSet();
    }
    return f;
  }

  Value ParseValue(bool is_const) {
    Value v;
    v.line = tok_.line;
    v.column = tok_.column;
    const Token at = tok_;
    if (Skip("$")) {
      if (is_const) Fail(at, "Syntax Error: Unexpected variable in a constant value.");
      v.kind = Value::Kind::kVariable;
      v.text = Name();
    } else if (Skip("[")) {
      Enter(at);
      v.kind = Value::Kind::kList;
      while (!Skip("]")) v.items.push_back(ParseValue(is_const));
      --depth_;
    } else if (Skip("{")) {
      Enter(at);
      v.kind = Value::Kind::kObject;
      while (!Skip("}")) {
        v.keys.push_back(Name());
        Expect(":");
        v.items.push_back(ParseValue(is_const));
      }
      --depth_;
    } else {
      Scalar(v);
    }
    return v;
  }

  void Scalar(Value& v) {
    switch (tok_.kind) {
      case Tok::kInt:
        v.kind = Value::Kind::kInt;
        break;
      case Tok::kFloat:
        v.kind = Value::Kind::kFloat;
        break;
      case Tok::kString:
        v.kind = Value::Kind::kString;
        break;
      case Tok::kName:
        v.kind = tok_.text == "true" || tok_.text == "false" ? Value::Kind::kBool
                 : tok_.text == "null"                       ? Value::Kind::kNull
                                                             : Value::Kind::kEnum;
        break;
      default:
        Unexpected();
    }
    v.text = std::move(tok_.text);
    Advance();
  }

  Lexer lex_;
  Token tok_;
  int depth_ = 0;
};

}  // namespace

std::expected<Operation, DocumentError> ParseOperation(std::string_view text,
                                                       std::string_view operation_name) {
  std::vector<Operation> ops;
  try {
    Parser parser(text);
    ops = parser.Document();
  } catch (Failure& f) {
    return std::unexpected(std::move(f.error));
  }
  if (operation_name.empty()) {
    if (ops.size() != 1) {
      return std::unexpected(
          DocumentError{"Must provide operation name if query contains multiple operations."});
    }
    return std::move(ops.front());
  }
  for (auto& op : ops) {
    if (op.name == operation_name) return std::move(op);
  }
  return std::unexpected(
      DocumentError{"Unknown operation named \"" + std::string(operation_name) + "\"."});
}

}  // namespace pgcdc::adapter::graphql
