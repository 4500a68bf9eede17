#include "cel/parser.h"

#include <cerrno>
#include <cstdlib>
#include <limits>
#include <vector>

#include "cel/lexer.h"

namespace pgcdc::cel {

namespace {

struct Failure {
  uint32_t pos;
  std::string message;
};

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  ExprPtr ParseAll() {
    ExprPtr e = ParseExpr();
    if (!failed_ && Peek().kind != Tok::kEof) Fail(Peek().pos, "unexpected " + Describe(Peek()));
    return failed_ ? nullptr : std::move(e);
  }
  const Failure& failure() const { return failure_; }

 private:
  const Token& Peek(size_t k = 0) const {
    size_t i = std::min(index_ + k, tokens_.size() - 1);
    return tokens_[i];
  }
  Token Take() {
    Token t = tokens_[index_];
    if (index_ + 1 < tokens_.size()) ++index_;
    return t;
  }
  bool Accept(Tok kind) {
    if (Peek().kind == kind) {
      Take();
      return true;
    }
    return false;
  }
  ExprPtr Fail(uint32_t pos, std::string message) {
    if (!failed_) {
      failed_ = true;
      failure_ = Failure{pos, std::move(message)};
    }
    return nullptr;
  }
  bool Expect(Tok kind, const char* what) {
    if (Accept(kind)) return true;
    Fail(Peek().pos, std::string("expected ") + what + ", found " + Describe(Peek()));
    return false;
  }
  static std::string Describe(const Token& t) {
    switch (t.kind) {
      case Tok::kEof:
        return "end of input";
      case Tok::kIdent:
        return "'" + t.text + "'";
      case Tok::kInt:
      case Tok::kUint:
      case Tok::kDouble:
        return "number";
      case Tok::kString:
        return "string";
      case Tok::kBytes:
        return "bytes";
      default:
        return "token";
    }
  }

  static ExprPtr Node(ExprKind kind, uint32_t pos) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->pos = pos;
    return e;
  }
  static ExprPtr Call(std::string name, uint32_t pos, std::vector<ExprPtr> args,
                      bool member = false) {
    ExprPtr e = Node(ExprKind::kCall, pos);
    e->name = std::move(name);
    e->args = std::move(args);
    e->member = member;
    return e;
  }
  static ExprPtr Binary(std::string name, uint32_t pos, ExprPtr a, ExprPtr b) {
    std::vector<ExprPtr> args;
    args.push_back(std::move(a));
    args.push_back(std::move(b));
    return Call(std::move(name), pos, std::move(args));
  }

  // Each node built in an operator chain adds one level of tree depth, so the
  // evaluator's recursion stays bounded for inputs like "1+1+1+...".
  bool Grow(uint32_t pos) {
    if (++depth_ > kMaxNestingDepth) {
      Fail(pos, "expression nested too deeply");
      return false;
    }
    return true;
  }
  struct DepthRestore {
    Parser* p;
    int saved;
    explicit DepthRestore(Parser* parser) : p(parser), saved(parser->depth_) {}
    ~DepthRestore() { p->depth_ = saved; }
  };

  struct DepthGuard {
    Parser* p;
    bool ok;
    explicit DepthGuard(Parser* parser) : p(parser), ok(++parser->depth_ <= kMaxNestingDepth) {}
    ~DepthGuard() { --p->depth_; }
  };

  ExprPtr ParseExpr() {
    DepthGuard guard(this);
    if (!guard.ok) return Fail(Peek().pos, "expression nested too deeply");
    ExprPtr cond = ParseOr();
    if (failed_) return nullptr;
    if (Peek().kind == Tok::kQuestion) {
      uint32_t pos = Take().pos;
      ExprPtr a = ParseOr();
      if (failed_ || !Expect(Tok::kColon, "':'")) return nullptr;
      ExprPtr b = ParseExpr();
      if (failed_) return nullptr;
      std::vector<ExprPtr> args;
      args.push_back(std::move(cond));
      args.push_back(std::move(a));
      args.push_back(std::move(b));
      return Call("_?_:_", pos, std::move(args));
    }
    return cond;
  }

  ExprPtr ParseOr() {
    DepthRestore restore(this);
    ExprPtr left = ParseAnd();
    while (!failed_ && Peek().kind == Tok::kOrOr) {
      uint32_t pos = Take().pos;
      if (!Grow(pos)) return nullptr;
      ExprPtr right = ParseAnd();
      if (failed_) return nullptr;
      left = Binary("_||_", pos, std::move(left), std::move(right));
    }
    return failed_ ? nullptr : std::move(left);
  }

  ExprPtr ParseAnd() {
    DepthRestore restore(this);
    ExprPtr left = ParseRelation();
    while (!failed_ && Peek().kind == Tok::kAndAnd) {
      uint32_t pos = Take().pos;
      if (!Grow(pos)) return nullptr;
      ExprPtr right = ParseRelation();
      if (failed_) return nullptr;
      left = Binary("_&&_", pos, std::move(left), std::move(right));
    }
    return failed_ ? nullptr : std::move(left);
  }

  ExprPtr ParseRelation() {
    DepthRestore restore(this);
    ExprPtr left = ParseAddition();
    while (!failed_) {
      const char* op = nullptr;
      switch (Peek().kind) {
        case Tok::kLess:
          op = "_<_";
          break;
        case Tok::kLessEq:
          op = "_<=_";
          break;
        case Tok::kGreater:
          op = "_>_";
          break;
        case Tok::kGreaterEq:
          op = "_>=_";
          break;
        case Tok::kEqEq:
          op = "_==_";
          break;
        case Tok::kNotEq:
          op = "_!=_";
          break;
        case Tok::kIn:
          op = "@in";
          break;
        default:
          break;
      }
      if (op == nullptr) break;
      uint32_t pos = Take().pos;
      if (!Grow(pos)) return nullptr;
      ExprPtr right = ParseAddition();
      if (failed_) return nullptr;
      left = Binary(op, pos, std::move(left), std::move(right));
    }
    return failed_ ? nullptr : std::move(left);
  }

  ExprPtr ParseAddition() {
    DepthRestore restore(this);
    ExprPtr left = ParseMultiplication();
    while (!failed_ && (Peek().kind == Tok::kPlus || Peek().kind == Tok::kMinus)) {
      Token t = Take();
      if (!Grow(t.pos)) return nullptr;
      ExprPtr right = ParseMultiplication();
      if (failed_) return nullptr;
      left = Binary(t.kind == Tok::kPlus ? "_+_" : "_-_", t.pos, std::move(left), std::move(right));
    }
    return failed_ ? nullptr : std::move(left);
  }

  ExprPtr ParseMultiplication() {
    DepthRestore restore(this);
    ExprPtr left = ParseUnary();
    while (!failed_ && (Peek().kind == Tok::kStar || Peek().kind == Tok::kSlash ||
                        Peek().kind == Tok::kPercent)) {
      Token t = Take();
      if (!Grow(t.pos)) return nullptr;
      ExprPtr right = ParseUnary();
      if (failed_) return nullptr;
      const char* op = t.kind == Tok::kStar ? "_*_" : (t.kind == Tok::kSlash ? "_/_" : "_%_");
      left = Binary(op, t.pos, std::move(left), std::move(right));
    }
    return failed_ ? nullptr : std::move(left);
  }

  ExprPtr ParseUnary() {
    DepthRestore restore(this);
    DepthGuard guard(this);
    if (!guard.ok) return Fail(Peek().pos, "expression nested too deeply");
    if (Peek().kind == Tok::kNot) {
      std::vector<uint32_t> ops;
      while (Peek().kind == Tok::kNot) {
        ops.push_back(Take().pos);
        if (!Grow(ops.back())) return nullptr;
      }
      ExprPtr e = ParseMember();
      for (size_t i = ops.size(); !failed_ && i-- > 0;) {
        std::vector<ExprPtr> args;
        args.push_back(std::move(e));
        e = Call("!_", ops[i], std::move(args));
      }
      return failed_ ? nullptr : std::move(e);
    }
    if (Peek().kind == Tok::kMinus) {
      std::vector<uint32_t> ops;
      while (Peek().kind == Tok::kMinus) {
        ops.push_back(Take().pos);
        if (!Grow(ops.back())) return nullptr;
      }
      ExprPtr e;
      // A minus directly before a numeric literal is part of the literal, so
      // -9223372036854775808 is representable.
      if (Peek().kind == Tok::kInt || Peek().kind == Tok::kDouble) {
        uint32_t lit_pos = ops.back();
        ops.pop_back();
        e = ParseLiteral(Take(), true, lit_pos);
        if (!failed_) e = ParsePostfix(std::move(e));
      } else {
        e = ParseMember();
      }
      for (size_t i = ops.size(); !failed_ && i-- > 0;) {
        std::vector<ExprPtr> args;
        args.push_back(std::move(e));
        e = Call("-_", ops[i], std::move(args));
      }
      return failed_ ? nullptr : std::move(e);
    }
    return ParseMember();
  }

  ExprPtr ParseMember() {
    ExprPtr e = ParsePrimary();
    if (failed_) return nullptr;
    return ParsePostfix(std::move(e));
  }

  ExprPtr ParsePostfix(ExprPtr e) {
    DepthRestore restore(this);
    while (!failed_) {
      const Token& t = Peek();
      if ((t.kind == Tok::kDot || t.kind == Tok::kLBracket) && !Grow(t.pos)) return nullptr;
      if (t.kind == Tok::kDot) {
        uint32_t dot_pos = Take().pos;
        if (Peek().kind == Tok::kQuestion)
          return Fail(Peek().pos, "optional field selection is not supported");
        if (Peek().kind != Tok::kIdent && Peek().kind != Tok::kQuotedIdent) {
          return Fail(Peek().pos, "expected field name after '.', found " + Describe(Peek()));
        }
        Token field = Take();
        if (field.kind == Tok::kIdent && Peek().kind == Tok::kLParen) {
          Take();
          std::vector<ExprPtr> args;
          args.push_back(std::move(e));
          if (!ParseExprList(Tok::kRParen, args)) return nullptr;
          e = MakeMemberCall(field, std::move(args));
        } else {
          ExprPtr sel = Node(ExprKind::kSelect, dot_pos);
          sel->name = field.text;
          sel->args.push_back(std::move(e));
          e = std::move(sel);
        }
      } else if (t.kind == Tok::kLBracket) {
        uint32_t pos = Take().pos;
        if (Peek().kind == Tok::kQuestion)
          return Fail(Peek().pos, "optional index is not supported");
        ExprPtr index = ParseExpr();
        if (failed_ || !Expect(Tok::kRBracket, "']'")) return nullptr;
        e = Binary("_[_]", pos, std::move(e), std::move(index));
      } else if (t.kind == Tok::kLBrace && IsQualifiedName(*e)) {
        e = ParseStruct(std::move(e));
      } else {
        break;
      }
    }
    return failed_ ? nullptr : std::move(e);
  }

  static bool IsQualifiedName(const Expr& e) {
    if (e.kind == ExprKind::kIdent) return true;
    return e.kind == ExprKind::kSelect && !e.test_only && IsQualifiedName(*e.args[0]);
  }
  static std::string QualifiedName(const Expr& e) {
    if (e.kind == ExprKind::kIdent) return e.name;
    return QualifiedName(*e.args[0]) + "." + e.name;
  }

  ExprPtr ParseStruct(ExprPtr type_name) {
    uint32_t pos = Take().pos;
    ExprPtr s = Node(ExprKind::kStruct, pos);
    s->name = QualifiedName(*type_name);
    while (!failed_ && Peek().kind != Tok::kRBrace) {
      if (Peek().kind == Tok::kQuestion) return Fail(Peek().pos, "optional field is not supported");
      if (Peek().kind != Tok::kIdent) return Fail(Peek().pos, "expected field name");
      s->field_names.push_back(Take().text);
      if (!Expect(Tok::kColon, "':'")) return nullptr;
      ExprPtr v = ParseExpr();
      if (failed_) return nullptr;
      s->args.push_back(std::move(v));
      if (!Accept(Tok::kComma)) break;
    }
    if (!Expect(Tok::kRBrace, "'}'")) return nullptr;
    return s;
  }

  // Parses "a, b, c<close>" (trailing comma allowed for lists/maps only).
  bool ParseExprList(Tok close, std::vector<ExprPtr>& out) {
    if (Accept(close)) return true;
    while (true) {
      ExprPtr e = ParseExpr();
      if (failed_) return false;
      out.push_back(std::move(e));
      if (Accept(Tok::kComma)) {
        if (close == Tok::kRBracket && Accept(close)) return true;
        continue;
      }
      const char* what = close == Tok::kRParen ? "')'" : "']'";
      return Expect(close, what);
    }
  }

  ExprPtr MakeMemberCall(const Token& fn, std::vector<ExprPtr> args) {
    static const struct {
      const char* name;
      MacroKind kind;
      size_t arity;  // excluding the receiver
    } kMacros[] = {{"all", MacroKind::kAll, 2},
                   {"exists", MacroKind::kExists, 2},
                   {"exists_one", MacroKind::kExistsOne, 2},
                   {"map", MacroKind::kMap, 2},
                   {"map", MacroKind::kMapFilter, 3},
                   {"filter", MacroKind::kFilter, 2}};
    static const struct {
      const char* name;
      MacroKind kind;
      size_t arity;
    } kMacros2[] = {{"all", MacroKind::kAll2, 3},
                    {"exists", MacroKind::kExists2, 3},
                    {"existsOne", MacroKind::kExistsOne2, 3},
                    {"exists_one", MacroKind::kExistsOne2, 3},
                    {"transformList", MacroKind::kTransformList, 3},
                    {"transformList", MacroKind::kTransformList, 4},
                    {"transformMap", MacroKind::kTransformMap, 3},
                    {"transformMap", MacroKind::kTransformMap, 4}};
    for (const auto& m : kMacros2) {
      if (fn.text != m.name || args.size() != m.arity + 1) continue;
      if (args[1]->kind != ExprKind::kIdent)
        return Fail(args[1]->pos, "argument is not an identifier");
      if (args[2]->kind != ExprKind::kIdent)
        return Fail(args[2]->pos, "argument is not an identifier");
      if (args[1]->name == args[2]->name) {
        return Fail(args[2]->pos, "duplicate variable name '" + args[2]->name + "'");
      }
      ExprPtr e = Node(ExprKind::kMacro, fn.pos);
      e->macro = m.kind;
      e->name = args[1]->name;
      e->field_names.push_back(args[2]->name);
      e->args.push_back(std::move(args[0]));
      for (size_t i = 3; i < args.size(); ++i) e->args.push_back(std::move(args[i]));
      return e;
    }
    for (const auto& m : kMacros) {
      if (fn.text != m.name || args.size() != m.arity + 1) continue;
      if (args[1]->kind != ExprKind::kIdent) {
        return Fail(args[1]->pos, "argument is not an identifier");
      }
      ExprPtr e = Node(ExprKind::kMacro, fn.pos);
      e->macro = m.kind;
      e->name = args[1]->name;
      e->args.push_back(std::move(args[0]));
      for (size_t i = 2; i < args.size(); ++i) e->args.push_back(std::move(args[i]));
      return e;
    }
    return Call(fn.text, fn.pos, std::move(args), /*member=*/true);
  }

  ExprPtr ParsePrimary() {
    DepthGuard guard(this);
    if (!guard.ok) return Fail(Peek().pos, "expression nested too deeply");
    Token t = Take();
    switch (t.kind) {
      case Tok::kError:
        return Fail(t.pos, t.text);
      case Tok::kInt:
      case Tok::kUint:
      case Tok::kDouble:
      case Tok::kString:
      case Tok::kBytes:
      case Tok::kTrue:
      case Tok::kFalse:
      case Tok::kNull:
        return ParseLiteral(t, false, t.pos);
      case Tok::kDot:
        if (Peek().kind != Tok::kIdent) return Fail(Peek().pos, "expected identifier after '.'");
        return ParseIdentOrCall(Take(), true);
      case Tok::kIdent:
        return ParseIdentOrCall(t, false);
      case Tok::kLParen: {
        ExprPtr e = ParseExpr();
        if (failed_ || !Expect(Tok::kRParen, "')'")) return nullptr;
        return e;
      }
      case Tok::kLBracket: {
        ExprPtr e = Node(ExprKind::kList, t.pos);
        if (!ParseExprList(Tok::kRBracket, e->args)) return nullptr;
        return e;
      }
      case Tok::kLBrace: {
        ExprPtr e = Node(ExprKind::kMap, t.pos);
        while (!failed_ && Peek().kind != Tok::kRBrace) {
          if (Peek().kind == Tok::kQuestion)
            return Fail(Peek().pos, "optional entry is not supported");
          ExprPtr k = ParseExpr();
          if (failed_ || !Expect(Tok::kColon, "':'")) return nullptr;
          ExprPtr v = ParseExpr();
          if (failed_) return nullptr;
          e->args.push_back(std::move(k));
          e->args.push_back(std::move(v));
          if (!Accept(Tok::kComma)) break;
        }
        if (!Expect(Tok::kRBrace, "'}'")) return nullptr;
        return e;
      }
      default:
        return Fail(t.pos, "unexpected " + Describe(t));
    }
  }

  ExprPtr ParseIdentOrCall(const Token& t, bool leading_dot) {
    if (IsReservedWord(t.text)) return Fail(t.pos, "reserved identifier: " + t.text);
    if (Peek().kind == Tok::kLParen) {
      Take();
      std::vector<ExprPtr> args;
      if (!ParseExprList(Tok::kRParen, args)) return nullptr;
      if (t.text == "has" && !leading_dot) {
        if (args.size() != 1 || args[0]->kind != ExprKind::kSelect) {
          return Fail(t.pos, "invalid argument to has() macro");
        }
        args[0]->test_only = true;
        return std::move(args[0]);
      }
      return Call(t.text, t.pos, std::move(args));
    }
    ExprPtr e = Node(ExprKind::kIdent, t.pos);
    e->name = t.text;
    return e;
  }

  ExprPtr ParseLiteral(const Token& t, bool negate, uint32_t pos) {
    ExprPtr e = Node(ExprKind::kConst, pos);
    switch (t.kind) {
      case Tok::kInt:
      case Tok::kUint: {
        bool hex = t.text.size() > 2 && t.text[0] == '0' && (t.text[1] == 'x' || t.text[1] == 'X');
        errno = 0;
        char* end = nullptr;
        unsigned long long mag = std::strtoull(t.text.c_str() + (hex ? 2 : 0), &end, hex ? 16 : 10);
        if (errno == ERANGE) return Fail(t.pos, "integer literal out of range");
        if (t.kind == Tok::kUint) {
          e->constant = Value::Uint(mag);
        } else if (negate) {
          if (mag > 9223372036854775808ULL) return Fail(t.pos, "integer literal out of range");
          e->constant = Value::Int(static_cast<int64_t>(0 - mag));
        } else {
          if (mag > 9223372036854775807ULL) return Fail(t.pos, "integer literal out of range");
          e->constant = Value::Int(static_cast<int64_t>(mag));
        }
        break;
      }
      case Tok::kDouble: {
        double d = std::strtod(t.text.c_str(), nullptr);
        e->constant = Value::Double(negate ? -d : d);
        break;
      }
      case Tok::kString:
        e->constant = Value::String(t.text);
        break;
      case Tok::kBytes:
        e->constant = Value::Bytes(t.text);
        break;
      case Tok::kTrue:
        e->constant = Value::Bool(true);
        break;
      case Tok::kFalse:
        e->constant = Value::Bool(false);
        break;
      default:
        e->constant = Value::Null();
        break;
    }
    return e;
  }

  std::vector<Token> tokens_;
  size_t index_ = 0;
  int depth_ = 0;
  bool failed_ = false;
  Failure failure_;
};

}  // namespace

ParseResult Parse(std::string_view source) {
  ParseResult result;
  if (source.size() > kMaxExpressionBytes) {
    result.error = {0,
                    "expression is longer than " + std::to_string(kMaxExpressionBytes) + " bytes"};
    return result;
  }
  std::vector<Token> tokens;
  Lexer lexer(source);
  while (true) {
    Token t = lexer.Next();
    Tok kind = t.kind;
    if (kind == Tok::kError) {
      result.error = {t.pos, t.text};
      return result;
    }
    tokens.push_back(std::move(t));
    if (kind == Tok::kEof) break;
  }
  Parser parser(std::move(tokens));
  result.expr = parser.ParseAll();
  if (!result.expr) result.error = {parser.failure().pos, parser.failure().message};
  return result;
}

std::string RenderError(std::string_view source, uint32_t pos, std::string_view message) {
  if (pos > source.size()) pos = static_cast<uint32_t>(source.size());
  size_t line = 1, line_start = 0;
  for (size_t i = 0; i < pos; ++i) {
    if (source[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  size_t line_end = source.find('\n', line_start);
  if (line_end == std::string_view::npos) line_end = source.size();
  // Column in code points (UTF-8 continuation bytes do not count).
  size_t column = 0;
  for (size_t i = line_start; i < pos; ++i) {
    if ((static_cast<unsigned char>(source[i]) & 0xC0) != 0x80) ++column;
  }
  std::string out = "ERROR: <input>:" + std::to_string(line) + ":" + std::to_string(column + 1) +
                    ": " + std::string(message) + "\n | " +
                    std::string(source.substr(line_start, line_end - line_start)) + "\n | " +
                    std::string(column, '.') + "^";
  return out;
}

}  // namespace pgcdc::cel
