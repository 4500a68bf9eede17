#include "pg/conn.h"

#include <gtest/gtest.h>

namespace pgcdc::pg {
namespace {

TEST(QuoteTest, Identifiers) {
  EXPECT_EQ(QuoteIdentifier("orders"), "\"orders\"");
  EXPECT_EQ(QuoteIdentifier("pgcdc:orders"), "\"pgcdc:orders\"");
  EXPECT_EQ(QuoteIdentifier("we\"ird"), "\"we\"\"ird\"");
}

TEST(QuoteTest, Literals) {
  EXPECT_EQ(QuoteLiteral("it's"), "'it''s'");
  EXPECT_EQ(QuoteLiteral(""), "''");
}

TEST(RedactTest, HidesPasswords) {
  EXPECT_EQ(RedactUrl("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
  EXPECT_EQ(RedactUrl("host=h password=secret user=u"), "host=h password=*** user=u");
  EXPECT_EQ(RedactUrl("postgres://u@h/db"), "postgres://u@h/db");
}

}  // namespace
}  // namespace pgcdc::pg
