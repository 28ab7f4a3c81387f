//! The SQL subset the emulator understands, with Trino's lexical rules (core/trino-grammar
//! SqlBase.g4): `"…"` identifiers with `""` escapes, `'…'` literals with `''` escapes,
//! case-insensitive keywords, `--` and `/* */` comments. Every token carries its line and column so
//! errors can say `line L:C: …` as Trino's parser does.
//!
//! Grammar (facts §1.3 and §2.1):
//! ```text
//! statement := SHOW CATALOGS [LIKE string [ESCAPE string]]
//!            | SHOW SCHEMAS [(FROM | IN) ident] [LIKE string [ESCAPE string]]
//!            | SELECT item (',' item)* [FROM name] [WHERE expr] [LIMIT (integer | ALL)]
//!              (an item may be `count(*)`)
//!            | CREATE CATALOG [IF NOT EXISTS] ident USING ident [COMMENT string]
//!                [AUTHORIZATION [USER | ROLE] ident] [WITH '(' ident '=' (DEFAULT | expr), … ')']
//!            | DROP CATALOG [IF EXISTS] ident [CASCADE | RESTRICT]
//! ```

use std::fmt;

/// A place in the statement text, 1-based like Trino's `line L:C:`.
pub type Pos = (usize, usize);

/// What the parser refuses: always Trino's `SYNTAX_ERROR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}:{}: {}", self.pos.0, self.pos.1, self.message)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    /// As written (without quotes): Trino's `Identifier.getValue()` keeps the case of unquoted
    /// identifiers; names are lower-cased where Trino resolves them (catalog names, columns).
    pub value: String,
    pub delimited: bool,
    pub pos: Pos,
}

impl Ident {
    /// The name Trino resolves: unquoted identifiers are case-insensitive.
    pub fn canonical(&self) -> String {
        if self.delimited {
            self.value.clone()
        } else {
            self.value.to_lowercase()
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    String(String, Pos),
    Integer(String, Pos),
    Decimal(String, Pos),
    Boolean(bool, Pos),
    Null(Pos),
    Column(Vec<Ident>),
    Compare(Box<Expr>, CompareOp, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    /// `count(*)`: the one aggregate the emulator knows (the sandboxes' first query).
    CountStar(Pos),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    NotEq,
}

impl Expr {
    pub fn pos(&self) -> Pos {
        match self {
            Expr::String(_, p)
            | Expr::Integer(_, p)
            | Expr::Decimal(_, p)
            | Expr::Boolean(_, p)
            | Expr::Null(p)
            | Expr::CountStar(p) => *p,
            Expr::Column(parts) => parts[0].pos,
            Expr::Compare(l, _, _) | Expr::And(l, _) | Expr::Or(l, _) => l.pos(),
        }
    }

    /// The expression as Trino's ExpressionFormatter prints it (used in error texts).
    pub fn formatted(&self) -> String {
        match self {
            Expr::String(s, _) => format!("'{}'", s.replace('\'', "''")),
            Expr::Integer(s, _) | Expr::Decimal(s, _) => s.clone(),
            Expr::Boolean(b, _) => b.to_string(),
            Expr::Null(_) => "null".to_string(),
            Expr::CountStar(_) => "count(*)".to_string(),
            Expr::Column(parts) => parts
                .iter()
                .map(|p| p.value.clone())
                .collect::<Vec<_>>()
                .join("."),
            Expr::Compare(l, op, r) => {
                let op = if *op == CompareOp::Eq { "=" } else { "<>" };
                format!("({} {op} {})", l.formatted(), r.formatted())
            }
            Expr::And(l, r) => format!("({} AND {})", l.formatted(), r.formatted()),
            Expr::Or(l, r) => format!("({} OR {})", l.formatted(), r.formatted()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    All,
    Expr { expr: Expr, alias: Option<Ident> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    pub items: Vec<SelectItem>,
    pub from: Option<Vec<Ident>>,
    pub filter: Option<Expr>,
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PropertyValue {
    Default,
    Expr(Expr),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    pub name: Ident,
    pub value: PropertyValue,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    ShowCatalogs {
        like: Option<String>,
        escape: Option<String>,
    },
    ShowSchemas {
        /// None: no `FROM`, the session's catalog (which the emulator never has).
        catalog: Option<Ident>,
        like: Option<String>,
        escape: Option<String>,
    },
    Select(Select),
    CreateCatalog {
        name: Ident,
        not_exists: bool,
        connector: Ident,
        authorization: bool,
        properties: Vec<Property>,
    },
    DropCatalog {
        name: Ident,
        exists: bool,
        cascade: bool,
    },
}

impl Statement {
    /// `QueryResults.updateType` for the statement (CreateCatalogTask/DropCatalogTask.getName()).
    pub fn update_type(&self) -> Option<&'static str> {
        match self {
            Statement::CreateCatalog { .. } => Some("CREATE CATALOG"),
            Statement::DropCatalog { .. } => Some("DROP CATALOG"),
            _ => None,
        }
    }
}

/// Grammar variations between Trino versions (facts §1.2).
#[derive(Debug, Clone, Copy, Default)]
pub struct Dialect {
    /// Early CREATE/DROP CATALOG grammar without `IF [NOT] EXISTS` (`--no-if-exists`).
    pub no_if_exists: bool,
    /// PrestoDB's grammar, which has no CREATE/DROP CATALOG at all (facts §5).
    pub presto: bool,
}

// ---------------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Str(String),
    Integer(String),
    Decimal(String),
    Symbol(&'static str),
    Eof,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// The source text, for `mismatched input '…'`.
    text: String,
    pos: Pos,
}

/// Reserved keywords of Trino (docs/src/main/sphinx/language/reserved.md): they cannot be
/// unquoted identifiers. NOT IN FACTS: the list is from memory of that page, not re-read.
const RESERVED: &[&str] = &[
    "ALTER",
    "AND",
    "AS",
    "BETWEEN",
    "BY",
    "CASE",
    "CAST",
    "CONSTRAINT",
    "CREATE",
    "CROSS",
    "CUBE",
    "CURRENT_CATALOG",
    "CURRENT_DATE",
    "CURRENT_PATH",
    "CURRENT_ROLE",
    "CURRENT_SCHEMA",
    "CURRENT_TIME",
    "CURRENT_TIMESTAMP",
    "CURRENT_USER",
    "DEALLOCATE",
    "DELETE",
    "DESCRIBE",
    "DISTINCT",
    "DROP",
    "ELSE",
    "END",
    "ESCAPE",
    "EXCEPT",
    "EXECUTE",
    "EXISTS",
    "EXTRACT",
    "FALSE",
    "FOR",
    "FROM",
    "FULL",
    "GROUP",
    "GROUPING",
    "HAVING",
    "IN",
    "INNER",
    "INSERT",
    "INTERSECT",
    "INTO",
    "IS",
    "JOIN",
    "JSON_ARRAY",
    "JSON_EXISTS",
    "JSON_OBJECT",
    "JSON_QUERY",
    "JSON_TABLE",
    "JSON_VALUE",
    "LEFT",
    "LIKE",
    "LISTAGG",
    "LOCALTIME",
    "LOCALTIMESTAMP",
    "NATURAL",
    "NORMALIZE",
    "NOT",
    "NULL",
    "ON",
    "OR",
    "ORDER",
    "OUTER",
    "PREPARE",
    "RECURSIVE",
    "RIGHT",
    "ROLLUP",
    "SELECT",
    "SKIP",
    "TABLE",
    "THEN",
    "TRIM",
    "TRUE",
    "UESCAPE",
    "UNION",
    "UNNEST",
    "USING",
    "VALUES",
    "WHEN",
    "WHERE",
    "WITH",
];

fn is_reserved(word: &str) -> bool {
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(word))
}

fn lex(sql: &str) -> Result<Vec<Token>, SyntaxError> {
    let chars: Vec<char> = sql.chars().collect();
    let mut tokens = Vec::new();
    let (mut i, mut line, mut col) = (0usize, 1usize, 1usize);
    // Advances over `n` chars keeping line/column right.
    let advance = |i: &mut usize, line: &mut usize, col: &mut usize, n: usize| {
        for _ in 0..n {
            if chars[*i] == '\n' {
                *line += 1;
                *col = 1;
            } else {
                *col += 1;
            }
            *i += 1;
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let pos = (line, col);
        if c.is_whitespace() {
            advance(&mut i, &mut line, &mut col, 1);
            continue;
        }
        if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                advance(&mut i, &mut line, &mut col, 1);
            }
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'*') {
            let start = i;
            advance(&mut i, &mut line, &mut col, 2);
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                advance(&mut i, &mut line, &mut col, 1);
            }
            if i >= chars.len() {
                // NOT IN FACTS: ANTLR's wording for an unterminated comment.
                let rest: String = chars[start..].iter().collect();
                return Err(SyntaxError {
                    pos,
                    message: format!("token recognition error at: '{rest}'"),
                });
            }
            advance(&mut i, &mut line, &mut col, 2);
            continue;
        }
        let start = i;
        let tok = if c == '\'' || c == '"' || c == '`' {
            let quote = c;
            let mut value = String::new();
            let mut j = i + 1;
            let mut closed = false;
            while j < chars.len() {
                if chars[j] == quote {
                    if chars.get(j + 1) == Some(&quote) {
                        value.push(quote);
                        j += 2;
                        continue;
                    }
                    closed = true;
                    j += 1;
                    break;
                }
                value.push(chars[j]);
                j += 1;
            }
            if !closed {
                // NOT IN FACTS: ANTLR's wording for an unterminated literal.
                let rest: String = chars[start..].iter().collect();
                return Err(SyntaxError {
                    pos,
                    message: format!("token recognition error at: '{rest}'"),
                });
            }
            let n = j - i;
            advance(&mut i, &mut line, &mut col, n);
            match quote {
                '\'' => Tok::Str(value),
                '"' => {
                    if value.is_empty() {
                        // NOT IN FACTS: Trino's AstBuilder text, from memory.
                        return Err(SyntaxError {
                            pos,
                            message: "Zero-length delimited identifier not allowed".to_string(),
                        });
                    }
                    Tok::Quoted(value)
                }
                _ => {
                    // NOT IN FACTS: the text Trino's parser rejects BACKQUOTED_IDENTIFIER with, from memory.
                    return Err(SyntaxError {
                        pos,
                        message: "backquoted identifiers are not supported; use double quotes to quote identifiers"
                            .to_string(),
                    });
                }
            }
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let mut j = i;
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
            let mut decimal = false;
            if j < chars.len() && chars[j] == '.' {
                decimal = true;
                j += 1;
                while j < chars.len() && chars[j].is_ascii_digit() {
                    j += 1;
                }
            }
            if j < chars.len() && (chars[j].is_alphabetic() || chars[j] == '_') {
                // DIGIT_IDENTIFIER in SqlBase.g4; NOT IN FACTS: the parser's text, from memory.
                return Err(SyntaxError {
                    pos,
                    message: "identifiers must not start with a digit; surround the identifier with double quotes"
                        .to_string(),
                });
            }
            let text: String = chars[i..j].iter().collect();
            let n = j - i;
            advance(&mut i, &mut line, &mut col, n);
            if decimal {
                Tok::Decimal(text)
            } else {
                Tok::Integer(text)
            }
        } else if c.is_alphabetic() || c == '_' {
            let mut j = i;
            while j < chars.len()
                && (chars[j].is_alphanumeric()
                    || chars[j] == '_'
                    || chars[j] == '@'
                    || chars[j] == ':')
            {
                j += 1;
            }
            let text: String = chars[i..j].iter().collect();
            let n = j - i;
            advance(&mut i, &mut line, &mut col, n);
            Tok::Word(text)
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let symbol = match two.as_str() {
                "<>" => Some("<>"),
                "!=" => Some("!="),
                _ => None,
            };
            let symbol = symbol.or(match c {
                '(' => Some("("),
                ')' => Some(")"),
                ',' => Some(","),
                '.' => Some("."),
                '=' => Some("="),
                '*' => Some("*"),
                ';' => Some(";"),
                '<' => Some("<"),
                '>' => Some(">"),
                '+' => Some("+"),
                '-' => Some("-"),
                '/' => Some("/"),
                '%' => Some("%"),
                '|' => Some("|"),
                '?' => Some("?"),
                '[' => Some("["),
                ']' => Some("]"),
                _ => None,
            });
            let Some(symbol) = symbol else {
                // NOT IN FACTS: ANTLR's wording for a character no token starts with.
                return Err(SyntaxError {
                    pos,
                    message: format!("token recognition error at: '{c}'"),
                });
            };
            advance(&mut i, &mut line, &mut col, symbol.chars().count());
            Tok::Symbol(symbol)
        };
        let text: String = chars[start..i].iter().collect();
        tokens.push(Token { tok, text, pos });
    }
    tokens.push(Token {
        tok: Tok::Eof,
        text: "<EOF>".to_string(),
        pos: (line, col),
    });
    Ok(tokens)
}

// ---------------------------------------------------------------------------------------------
// Parser

/// Parses one statement. Errors have Trino's shape: `mismatched input 'x'. Expecting: …`.
///
/// NOT IN FACTS: the `Expecting:` lists name only the alternatives of this subset; real Trino lists
/// every token its full grammar would accept at that point.
pub fn parse(sql: &str, dialect: Dialect) -> Result<Statement, SyntaxError> {
    let tokens = lex(sql)?;
    let mut parser = Parser {
        tokens,
        at: 0,
        dialect,
    };
    let statement = parser.statement()?;
    parser.expect_eof()?;
    Ok(statement)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    dialect: Dialect,
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.at]
    }

    fn next(&mut self) -> Token {
        let token = self.tokens[self.at].clone();
        if self.at + 1 < self.tokens.len() {
            self.at += 1;
        }
        token
    }

    fn mismatch(&self, expected: &[&str]) -> SyntaxError {
        let token = self.peek();
        SyntaxError {
            pos: token.pos,
            message: format!(
                "mismatched input '{}'. Expecting: {}",
                token.text,
                expected.join(", ")
            ),
        }
    }

    fn is_keyword(&self, keyword: &str) -> bool {
        matches!(&self.peek().tok, Tok::Word(w) if w.eq_ignore_ascii_case(keyword))
    }

    fn accept_keyword(&mut self, keyword: &str) -> bool {
        if self.is_keyword(keyword) {
            self.next();
            true
        } else {
            false
        }
    }

    fn expect_keyword(&mut self, keyword: &str) -> Result<Token, SyntaxError> {
        if self.is_keyword(keyword) {
            Ok(self.next())
        } else {
            Err(self.mismatch(&[&format!("'{keyword}'")]))
        }
    }

    fn is_symbol(&self, symbol: &str) -> bool {
        matches!(&self.peek().tok, Tok::Symbol(s) if *s == symbol)
    }

    fn expect_symbol(&mut self, symbol: &str, expected: &[&str]) -> Result<Token, SyntaxError> {
        if self.is_symbol(symbol) {
            Ok(self.next())
        } else {
            Err(self.mismatch(expected))
        }
    }

    fn expect_eof(&mut self) -> Result<(), SyntaxError> {
        if matches!(self.peek().tok, Tok::Eof) {
            Ok(())
        } else {
            Err(self.mismatch(&["<EOF>"]))
        }
    }

    fn identifier(&mut self) -> Result<Ident, SyntaxError> {
        let token = self.peek().clone();
        match &token.tok {
            Tok::Word(w) if !is_reserved(w) => {
                self.next();
                Ok(Ident {
                    value: w.clone(),
                    delimited: false,
                    pos: token.pos,
                })
            }
            Tok::Quoted(q) => {
                self.next();
                Ok(Ident {
                    value: q.clone(),
                    delimited: true,
                    pos: token.pos,
                })
            }
            _ => Err(self.mismatch(&["<identifier>"])),
        }
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        match &self.peek().tok {
            Tok::Str(s) => {
                let s = s.clone();
                self.next();
                Ok(s)
            }
            _ => Err(self.mismatch(&["<string>"])),
        }
    }

    fn statement(&mut self) -> Result<Statement, SyntaxError> {
        if self.accept_keyword("SHOW") {
            let schemas = self.is_keyword("SCHEMAS");
            if !schemas && !self.is_keyword("CATALOGS") {
                return Err(self.mismatch(&["'CATALOGS'", "'SCHEMAS'"]));
            }
            self.next();
            let mut catalog = None;
            if schemas && (self.accept_keyword("FROM") || self.accept_keyword("IN")) {
                catalog = Some(self.identifier()?);
            }
            let mut like = None;
            let mut escape = None;
            if self.accept_keyword("LIKE") {
                like = Some(self.string()?);
                if self.accept_keyword("ESCAPE") {
                    escape = Some(self.string()?);
                }
            } else if !matches!(self.peek().tok, Tok::Eof) {
                return Err(if schemas && catalog.is_none() {
                    self.mismatch(&["'FROM'", "'IN'", "'LIKE'", "<EOF>"])
                } else {
                    self.mismatch(&["'LIKE'", "<EOF>"])
                });
            }
            if schemas {
                return Ok(Statement::ShowSchemas {
                    catalog,
                    like,
                    escape,
                });
            }
            return Ok(Statement::ShowCatalogs { like, escape });
        }
        if self.is_keyword("SELECT") {
            return self.select().map(Statement::Select);
        }
        if self.accept_keyword("CREATE") {
            if self.dialect.presto {
                // Recorded on PrestoDB 0.296.
                return Err(self.mismatch(&[
                    "'FUNCTION'",
                    "'MATERIALIZED'",
                    "'OR'",
                    "'ROLE'",
                    "'SCHEMA'",
                    "'TABLE'",
                    "'TEMPORARY'",
                    "'TYPE'",
                    "'VIEW'",
                ]));
            }
            if !self.is_keyword("CATALOG") {
                return Err(self.mismatch(&["'CATALOG'"]));
            }
            self.next();
            return self.create_catalog();
        }
        if self.accept_keyword("DROP") {
            if self.dialect.presto {
                // Recorded on PrestoDB 0.296.
                return Err(self.mismatch(&[
                    "'FUNCTION'",
                    "'MATERIALIZED'",
                    "'ROLE'",
                    "'SCHEMA'",
                    "'TABLE'",
                    "'TEMPORARY'",
                    "'VIEW'",
                ]));
            }
            if !self.is_keyword("CATALOG") {
                return Err(self.mismatch(&["'CATALOG'"]));
            }
            self.next();
            return self.drop_catalog();
        }
        Err(self.mismatch(&["'CREATE'", "'DROP'", "'SELECT'", "'SHOW'"]))
    }

    fn create_catalog(&mut self) -> Result<Statement, SyntaxError> {
        let mut not_exists = false;
        // IF is a non-reserved word, so without the IF NOT EXISTS rule `IF` parses as the catalog
        // name and the error lands on `NOT` — as on a Trino whose grammar lacks it.
        if !self.dialect.no_if_exists && self.is_keyword("IF") {
            self.next();
            if !self.is_keyword("NOT") {
                return Err(self.mismatch(&["'NOT'"]));
            }
            self.next();
            self.expect_keyword("EXISTS")?;
            not_exists = true;
        }
        let name = self.identifier()?;
        self.expect_keyword("USING")?;
        let connector = self.identifier()?;
        if self.accept_keyword("COMMENT") {
            // Parsed and ignored by CreateCatalogTask (facts §1.3).
            self.string()?;
        }
        let mut authorization = false;
        if self.accept_keyword("AUTHORIZATION") {
            if self.is_keyword("USER") || self.is_keyword("ROLE") {
                // `USER`/`ROLE` followed by an identifier; alone they are the principal itself.
                let save = self.at;
                self.next();
                if self.identifier().is_err() {
                    self.at = save;
                    self.identifier()?;
                }
            } else {
                self.identifier()?;
            }
            authorization = true;
        }
        let mut properties = Vec::new();
        if self.accept_keyword("WITH") {
            self.expect_symbol("(", &["'('"])?;
            loop {
                let name = self.identifier()?;
                let pos = name.pos;
                self.expect_symbol("=", &["'='"])?;
                let value = if self.is_keyword("DEFAULT") {
                    self.next();
                    PropertyValue::Default
                } else {
                    PropertyValue::Expr(self.expression()?)
                };
                properties.push(Property { name, value, pos });
                if self.is_symbol(",") {
                    self.next();
                    continue;
                }
                self.expect_symbol(")", &["')'", "','"])?;
                break;
            }
        } else if !matches!(self.peek().tok, Tok::Eof) {
            let mut expected = vec!["'AUTHORIZATION'", "'WITH'", "<EOF>"];
            if !authorization {
                expected.insert(0, "'COMMENT'");
            }
            return Err(self.mismatch(&expected));
        }
        Ok(Statement::CreateCatalog {
            name,
            not_exists,
            connector,
            authorization,
            properties,
        })
    }

    fn drop_catalog(&mut self) -> Result<Statement, SyntaxError> {
        let mut exists = false;
        if !self.dialect.no_if_exists && self.is_keyword("IF") {
            // `DROP CATALOG if` (a catalog named "if") stays possible.
            let next_is_exists = matches!(&self.tokens[self.at + 1].tok, Tok::Word(w) if w.eq_ignore_ascii_case("EXISTS"));
            if next_is_exists {
                self.next();
                self.next();
                exists = true;
            }
        }
        let name = self.identifier()?;
        let mut cascade = false;
        if self.accept_keyword("CASCADE") {
            cascade = true;
        } else if !self.accept_keyword("RESTRICT") && !matches!(self.peek().tok, Tok::Eof) {
            return Err(self.mismatch(&["'CASCADE'", "'RESTRICT'", "<EOF>"]));
        }
        Ok(Statement::DropCatalog {
            name,
            exists,
            cascade,
        })
    }

    fn select(&mut self) -> Result<Select, SyntaxError> {
        self.expect_keyword("SELECT")?;
        let mut items = Vec::new();
        loop {
            if self.is_symbol("*") {
                self.next();
                items.push(SelectItem::All);
            } else {
                let expr = self.expression()?;
                // `AS alias`, or an alias right after the expression (LIMIT is non-reserved
                // but starts the LIMIT clause).
                let bare_alias = matches!(&self.peek().tok, Tok::Word(w) if !is_reserved(w) && !w.eq_ignore_ascii_case("LIMIT"))
                    || matches!(self.peek().tok, Tok::Quoted(_));
                let alias = if self.accept_keyword("AS") || bare_alias {
                    Some(self.identifier()?)
                } else {
                    None
                };
                items.push(SelectItem::Expr { expr, alias });
            }
            if self.is_symbol(",") {
                self.next();
            } else {
                break;
            }
        }
        let mut from = None;
        if self.accept_keyword("FROM") {
            let mut parts = vec![self.identifier()?];
            while self.is_symbol(".") {
                self.next();
                parts.push(self.identifier()?);
            }
            from = Some(parts);
        }
        let mut filter = None;
        if self.accept_keyword("WHERE") {
            filter = Some(self.expression()?);
        }
        let mut limit = None;
        if self.accept_keyword("LIMIT") {
            match &self.peek().tok {
                Tok::Integer(n) => {
                    limit = Some(n.parse().unwrap_or(u64::MAX));
                    self.next();
                }
                Tok::Word(w) if w.eq_ignore_ascii_case("ALL") => {
                    self.next();
                }
                _ => return Err(self.mismatch(&["'ALL'", "<integer>"])),
            }
        }
        if !matches!(self.peek().tok, Tok::Eof) {
            let mut expected = vec!["','"];
            if from.is_none() {
                expected.push("'FROM'");
            }
            if filter.is_none() {
                expected.push("'WHERE'");
            }
            if limit.is_none() {
                expected.push("'LIMIT'");
            }
            expected.push("<EOF>");
            return Err(self.mismatch(&expected));
        }
        Ok(Select {
            items,
            from,
            filter,
            limit,
        })
    }

    fn expression(&mut self) -> Result<Expr, SyntaxError> {
        let mut left = self.conjunction()?;
        while self.accept_keyword("OR") {
            let right = self.conjunction()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn conjunction(&mut self) -> Result<Expr, SyntaxError> {
        let mut left = self.comparison()?;
        while self.accept_keyword("AND") {
            let right = self.comparison()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn comparison(&mut self) -> Result<Expr, SyntaxError> {
        let left = self.primary()?;
        let op = if self.is_symbol("=") {
            CompareOp::Eq
        } else if self.is_symbol("<>") || self.is_symbol("!=") {
            CompareOp::NotEq
        } else {
            return Ok(left);
        };
        self.next();
        let right = self.primary()?;
        Ok(Expr::Compare(Box::new(left), op, Box::new(right)))
    }

    fn primary(&mut self) -> Result<Expr, SyntaxError> {
        let token = self.peek().clone();
        let expr = match &token.tok {
            Tok::Str(s) => Expr::String(s.clone(), token.pos),
            Tok::Integer(n) => Expr::Integer(n.clone(), token.pos),
            Tok::Decimal(n) => Expr::Decimal(n.clone(), token.pos),
            Tok::Word(w) if w.eq_ignore_ascii_case("TRUE") => Expr::Boolean(true, token.pos),
            Tok::Word(w) if w.eq_ignore_ascii_case("FALSE") => Expr::Boolean(false, token.pos),
            Tok::Word(w) if w.eq_ignore_ascii_case("NULL") => Expr::Null(token.pos),
            Tok::Symbol("(") => {
                self.next();
                let inner = self.expression()?;
                self.expect_symbol(")", &["')'"])?;
                return Ok(inner);
            }
            Tok::Word(w)
                if w.eq_ignore_ascii_case("count")
                    && matches!(
                        self.tokens.get(self.at + 1).map(|t| &t.tok),
                        Some(Tok::Symbol("("))
                    )
                    && matches!(
                        self.tokens.get(self.at + 2).map(|t| &t.tok),
                        Some(Tok::Symbol("*"))
                    ) =>
            {
                self.next();
                self.next();
                self.next();
                self.expect_symbol(")", &["')'"])?;
                return Ok(Expr::CountStar(token.pos));
            }
            Tok::Word(_) | Tok::Quoted(_) => {
                let mut parts = vec![self.identifier()?];
                while self.is_symbol(".") {
                    self.next();
                    parts.push(self.identifier()?);
                }
                return Ok(Expr::Column(parts));
            }
            _ => return Err(self.mismatch(&["<expression>"])),
        };
        self.next();
        Ok(expr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(sql: &str) -> Statement {
        parse(sql, Dialect::default()).unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    fn error(sql: &str) -> String {
        parse(sql, Dialect::default()).unwrap_err().to_string()
    }

    #[test]
    fn create_catalog_with_quoted_keys_and_escaped_quotes() {
        let Statement::CreateCatalog {
            name,
            not_exists,
            connector,
            properties,
            authorization,
        } = parsed(
            "create catalog IF NOT EXISTS \"My\"\"Cat\" USING postgresql COMMENT 'c' WITH (\"connection-url\" = 'it''s', a = 'b')",
        )
        else {
            panic!("not a create")
        };
        assert_eq!(name.value, "My\"Cat");
        assert!(name.delimited && not_exists && !authorization);
        assert_eq!(connector.value, "postgresql");
        assert_eq!(properties[0].name.value, "connection-url");
        assert_eq!(
            properties[0].value,
            PropertyValue::Expr(Expr::String("it's".into(), (1, 94)))
        );
        assert_eq!(properties[1].name.pos, (1, 103));
    }

    #[test]
    fn drop_catalog_variants() {
        assert!(matches!(
            parsed("DROP CATALOG IF EXISTS x"),
            Statement::DropCatalog {
                exists: true,
                cascade: false,
                ..
            }
        ));
        assert!(matches!(
            parsed("drop catalog x cascade"),
            Statement::DropCatalog {
                exists: false,
                cascade: true,
                ..
            }
        ));
        assert!(matches!(
            parsed("drop catalog if"),
            Statement::DropCatalog { exists: false, .. }
        ));
    }

    #[test]
    fn errors_point_at_the_offending_token() {
        assert_eq!(
            error("SELEC 1"),
            "line 1:1: mismatched input 'SELEC'. Expecting: 'CREATE', 'DROP', 'SELECT', 'SHOW'"
        );
        assert_eq!(
            error("SHOW TABLES"),
            "line 1:6: mismatched input 'TABLES'. Expecting: 'CATALOGS', 'SCHEMAS'"
        );
        assert_eq!(
            error("CREATE CATALOG select USING memory"),
            "line 1:16: mismatched input 'select'. Expecting: <identifier>"
        );
        assert_eq!(
            error("SHOW CATALOGS;"),
            "line 1:14: mismatched input ';'. Expecting: 'LIKE', <EOF>"
        );
        assert_eq!(
            error("CREATE CATALOG a\n  USING memory WITH (x 'y')"),
            "line 2:24: mismatched input ''y''. Expecting: '='"
        );
        assert_eq!(
            error("DROP CATALOG ``"),
            "line 1:14: backquoted identifiers are not supported; use double quotes to quote identifiers"
        );
        assert_eq!(
            error("DROP CATALOG 1a"),
            "line 1:14: identifiers must not start with a digit; surround the identifier with double quotes"
        );
        assert_eq!(
            error("SELECT 'abc"),
            "line 1:8: token recognition error at: ''abc'"
        );
    }

    #[test]
    fn grammar_without_if_exists() {
        let old = Dialect {
            no_if_exists: true,
            presto: false,
        };
        assert_eq!(
            parse("CREATE CATALOG IF NOT EXISTS x USING memory", old)
                .unwrap_err()
                .to_string(),
            "line 1:19: mismatched input 'NOT'. Expecting: 'USING'"
        );
        assert_eq!(
            parse("DROP CATALOG IF EXISTS x", old)
                .unwrap_err()
                .to_string(),
            "line 1:17: mismatched input 'EXISTS'. Expecting: 'CASCADE', 'RESTRICT', <EOF>"
        );
    }

    #[test]
    fn select_forms() {
        let Statement::Select(select) = parsed(
            "SELECT catalog_name, connector_name AS c FROM system.metadata.catalogs WHERE catalog_name = 'tpch' LIMIT 2",
        ) else {
            panic!()
        };
        assert_eq!(select.items.len(), 2);
        assert_eq!(select.from.unwrap().len(), 3);
        assert_eq!(select.limit, Some(2));
        assert!(matches!(parsed("select 1"), Statement::Select(_)));
        assert!(matches!(
            parsed("-- c\nSHOW /* x */ CATALOGS LIKE 't%' ESCAPE '\\'"),
            Statement::ShowCatalogs { .. }
        ));
        assert!(matches!(
            parsed("SHOW SCHEMAS FROM \"tpch\""),
            Statement::ShowSchemas {
                catalog: Some(_),
                ..
            }
        ));
        let Statement::Select(select) = parsed("SELECT count(*) FROM t.tiny.nation") else {
            panic!()
        };
        assert!(matches!(
            select.items[0],
            SelectItem::Expr {
                expr: Expr::CountStar(_),
                ..
            }
        ));
    }
}
