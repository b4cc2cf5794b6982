//! Parser for the Nunjucks subset Backstage renders: template text with `${{ }}` (or `{{ }}`),
//! `{% %}` and `{# #}`, and the expression grammar of Nunjucks 3.2.4 (precedence included).

use super::Syntax;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
}

#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Literal(Literal),
    Regex(String, String),
    Name(String),
    Array(Vec<Expr>),
    Dict(Vec<(Expr, Expr)>),
    Member(Box<Expr>, Box<Expr>),
    Slice(Box<Expr>, [Option<Box<Expr>>; 3]),
    Call(Box<Expr>, Args),
    Filter(Box<Expr>, String, Args),
    Test(Box<Expr>, String, Vec<Expr>, bool),
    Unary(char, Box<Expr>),
    Not(Box<Expr>),
    Binary(&'static str, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    In(Box<Expr>, Box<Expr>, bool),
    Compare(Box<Expr>, Vec<(String, Expr)>),
    InlineIf(Box<Expr>, Box<Expr>, Option<Box<Expr>>),
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Args {
    pub positional: Vec<Expr>,
    pub keyword: Vec<(String, Expr)>,
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Text(String),
    Output(Expr),
    If(Vec<(Expr, Vec<Node>)>, Option<Vec<Node>>),
    For {
        targets: Vec<String>,
        iterable: Expr,
        body: Vec<Node>,
        otherwise: Option<Vec<Node>>,
    },
    Set(Vec<String>, Expr),
    SetBlock(String, Vec<Node>),
    FilterBlock(String, Args, Vec<Node>),
}

#[derive(Debug, Clone)]
pub(crate) struct ParseError {
    pub message: String,
    pub line: usize,
}

type Result<T> = std::result::Result<T, ParseError>;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Str(String),
    Num(f64),
    Regex(String, String),
    Op(&'static str),
    Eof,
}

const OPERATORS: &[&str] = &[
    "===", "!==", "**", "//", "==", "!=", "<=", ">=", "(", ")", "[", "]", "{", "}", ".", ",", ":",
    "|", "~", "+", "-", "*", "/", "%", "<", ">", "=",
];

fn tokenize(source: &str, line: usize) -> Result<Vec<Tok>> {
    let err = |message: String| ParseError { message, line };
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut index = 0;
    while index < source.len() {
        let ch = source[index..].chars().next().unwrap_or(' ');
        if ch.is_whitespace() {
            index += ch.len_utf8();
            continue;
        }
        let after_dot = matches!(tokens.last(), Some(Tok::Op(".")));
        if ch.is_ascii_alphabetic() || ch == '_' || ch == '$' || (after_dot && ch.is_ascii_digit())
        {
            let end = source[index..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
                .map_or(source.len(), |o| index + o);
            let name = &source[index..end];
            if name == "r" && bytes.get(end) == Some(&b'/') {
                let (pattern, flags, next) = scan_regex(source, end + 1).map_err(err)?;
                tokens.push(Tok::Regex(pattern, flags));
                index = next;
            } else {
                tokens.push(Tok::Name(name.to_owned()));
                index = end;
            }
            continue;
        }
        if ch.is_ascii_digit() {
            let mut end = index;
            while end < source.len() && bytes[end].is_ascii_digit() {
                end += 1;
            }
            if bytes.get(end) == Some(&b'.') {
                end += 1;
                while end < source.len() && bytes[end].is_ascii_digit() {
                    end += 1;
                }
            }
            if bytes
                .get(end)
                .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
            {
                return Err(err("Invalid numeric literal".into()));
            }
            let number = source[index..end].parse::<f64>().unwrap_or(f64::NAN);
            tokens.push(Tok::Num(number));
            index = end;
            continue;
        }
        if ch == '"' || ch == '\'' {
            let (text, next) = read_string(source, index, ch).map_err(err)?;
            tokens.push(Tok::Str(text));
            index = next;
            continue;
        }
        match OPERATORS
            .iter()
            .find(|op| source[index..].starts_with(**op))
        {
            Some(op) => {
                tokens.push(Tok::Op(op));
                index += op.len();
            }
            None => return Err(err(format!("Unexpected character \"{ch}\""))),
        }
    }
    tokens.push(Tok::Eof);
    Ok(tokens)
}

fn read_string(
    source: &str,
    start: usize,
    quote: char,
) -> std::result::Result<(String, usize), String> {
    let mut out = String::new();
    let mut chars = source[start + 1..].char_indices();
    while let Some((offset, ch)) = chars.next() {
        if ch == quote {
            return Ok((out, start + 1 + offset + 1));
        }
        if ch != '\\' {
            out.push(ch);
            continue;
        }
        match chars.next() {
            Some((_, 'n')) => out.push('\n'),
            Some((_, 'r')) => out.push('\r'),
            Some((_, 't')) => out.push('\t'),
            Some((_, other)) => out.push(other),
            None => break,
        }
    }
    Err("Unterminated string literal".into())
}

fn scan_regex(source: &str, start: usize) -> std::result::Result<(String, String, usize), String> {
    let mut pattern = String::new();
    let mut escaped = false;
    let mut in_class = false;
    for (offset, ch) in source[start..].char_indices() {
        if escaped {
            pattern.push(ch);
            escaped = false;
            continue;
        }
        match ch {
            '\\' => {
                pattern.push(ch);
                escaped = true;
            }
            '[' => {
                in_class = true;
                pattern.push(ch);
            }
            ']' => {
                in_class = false;
                pattern.push(ch);
            }
            '/' if !in_class => {
                let flags_start = start + offset + 1;
                let flags_end = source[flags_start..]
                    .find(|c: char| !c.is_ascii_alphabetic())
                    .map_or(source.len(), |o| flags_start + o);
                let flags = &source[flags_start..flags_end];
                if flags.chars().any(|c| !"gimy".contains(c)) {
                    return Err(format!("Invalid regular expression flags \"{flags}\""));
                }
                return Ok((pattern, flags.to_owned(), flags_end));
            }
            '\n' => break,
            _ => pattern.push(ch),
        }
    }
    Err("Unterminated regular expression literal".into())
}

struct ExprParser {
    tokens: Vec<Tok>,
    index: usize,
    line: usize,
}

impl ExprParser {
    fn peek(&self) -> &Tok {
        self.tokens.get(self.index).unwrap_or(&Tok::Eof)
    }

    fn peek_at(&self, offset: usize) -> &Tok {
        self.tokens.get(self.index + offset).unwrap_or(&Tok::Eof)
    }

    fn next(&mut self) -> Tok {
        let tok = self.peek().clone();
        self.index += 1;
        tok
    }

    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            message: message.into(),
            line: self.line,
        }
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if *o == op)
    }

    fn is_name(&self, name: &str) -> bool {
        matches!(self.peek(), Tok::Name(n) if n == name)
    }

    fn skip_op(&mut self, op: &str) -> bool {
        if self.is_op(op) {
            self.index += 1;
            true
        } else {
            false
        }
    }

    fn skip_name(&mut self, name: &str) -> bool {
        if self.is_name(name) {
            self.index += 1;
            true
        } else {
            false
        }
    }

    fn expect_op(&mut self, op: &str) -> Result<()> {
        if self.skip_op(op) {
            Ok(())
        } else {
            Err(self.error(format!("expected \"{op}\", got {}", describe(self.peek()))))
        }
    }

    fn name(&mut self) -> Result<String> {
        match self.next() {
            Tok::Name(name) => Ok(name),
            other => Err(self.error(format!("expected a name, got {}", describe(&other)))),
        }
    }

    fn expression(&mut self) -> Result<Expr> {
        self.inline_if()
    }

    fn inline_if(&mut self) -> Result<Expr> {
        let body = self.or()?;
        if self.skip_name("if") {
            let condition = self.or()?;
            let otherwise = if self.skip_name("else") {
                Some(Box::new(self.or()?))
            } else {
                None
            };
            return Ok(Expr::InlineIf(
                Box::new(condition),
                Box::new(body),
                otherwise,
            ));
        }
        Ok(body)
    }

    fn or(&mut self) -> Result<Expr> {
        let mut node = self.and()?;
        while self.skip_name("or") {
            node = Expr::Or(Box::new(node), Box::new(self.and()?));
        }
        Ok(node)
    }

    fn and(&mut self) -> Result<Expr> {
        let mut node = self.not()?;
        while self.skip_name("and") {
            node = Expr::And(Box::new(node), Box::new(self.not()?));
        }
        Ok(node)
    }

    fn not(&mut self) -> Result<Expr> {
        if self.skip_name("not") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.in_()
    }

    fn in_(&mut self) -> Result<Expr> {
        let mut node = self.is()?;
        loop {
            if self.is_name("not") && matches!(self.peek_at(1), Tok::Name(n) if n == "in") {
                self.index += 2;
                node = Expr::In(Box::new(node), Box::new(self.is()?), true);
            } else if self.skip_name("in") {
                node = Expr::In(Box::new(node), Box::new(self.is()?), false);
            } else {
                return Ok(node);
            }
        }
    }

    fn is(&mut self) -> Result<Expr> {
        let node = self.compare()?;
        if self.skip_name("is") {
            let negated = self.skip_name("not");
            let test = self.name()?;
            let mut args = Vec::new();
            if self.skip_op("(") {
                args = self.arguments(")")?.positional;
            } else if !matches!(self.peek(), Tok::Eof)
                && !self.is_op(")")
                && !self.is_op(",")
                && !self.is_op("]")
                && !self.is_op("}")
                && !self.is_op(":")
                && !matches!(self.peek(), Tok::Name(n) if matches!(n.as_str(), "and" | "or" | "if" | "else"))
            {
                args.push(self.primary_with_postfix()?);
            }
            return Ok(Expr::Test(Box::new(node), test, args, negated));
        }
        Ok(node)
    }

    fn compare(&mut self) -> Result<Expr> {
        let first = self.concat()?;
        let mut ops = Vec::new();
        while let Tok::Op(op @ ("==" | "===" | "!=" | "!==" | "<" | ">" | "<=" | ">=")) =
            self.peek()
        {
            let op = *op;
            self.index += 1;
            ops.push((op.to_owned(), self.concat()?));
        }
        Ok(if ops.is_empty() {
            first
        } else {
            Expr::Compare(Box::new(first), ops)
        })
    }

    fn concat(&mut self) -> Result<Expr> {
        let mut node = self.binary(0)?;
        while self.skip_op("~") {
            node = Expr::Binary("~", Box::new(node), Box::new(self.binary(0)?));
        }
        Ok(node)
    }

    /// Additive, then multiplicative, then `**`, each left-associative (nunjitsu's precedence,
    /// which unlike Nunjucks 3.2.4 puts `+` and `-` on one level).
    fn binary(&mut self, level: usize) -> Result<Expr> {
        const LEVELS: [&[&str]; 3] = [&["+", "-"], &["*", "/", "//", "%"], &["**"]];
        let Some(ops) = LEVELS.get(level) else {
            return self.unary(false);
        };
        let mut node = self.binary(level + 1)?;
        loop {
            let Some(op) = ops.iter().find(|op| self.is_op(op)) else {
                return Ok(node);
            };
            self.index += 1;
            node = Expr::Binary(op, Box::new(node), Box::new(self.binary(level + 1)?));
        }
    }

    fn unary(&mut self, no_filters: bool) -> Result<Expr> {
        let node = if self.skip_op("-") {
            Expr::Unary('-', Box::new(self.unary(true)?))
        } else if self.skip_op("+") {
            Expr::Unary('+', Box::new(self.unary(true)?))
        } else {
            self.primary_with_postfix()?
        };
        if no_filters {
            Ok(node)
        } else {
            self.filters(node)
        }
    }

    fn filters(&mut self, mut node: Expr) -> Result<Expr> {
        while self.skip_op("|") {
            let mut name = self.name()?;
            while self.skip_op(".") {
                name.push('.');
                name.push_str(&self.name()?);
            }
            let args = if self.skip_op("(") {
                self.arguments(")")?
            } else {
                Args::default()
            };
            node = Expr::Filter(Box::new(node), name, args);
        }
        Ok(node)
    }

    fn primary_with_postfix(&mut self) -> Result<Expr> {
        let node = self.primary()?;
        self.postfix(node)
    }

    fn postfix(&mut self, mut node: Expr) -> Result<Expr> {
        loop {
            if self.skip_op("(") {
                node = Expr::Call(Box::new(node), self.arguments(")")?);
            } else if self.skip_op("[") {
                node = self.subscript(node)?;
            } else if self.skip_op(".") {
                let name = match self.next() {
                    Tok::Name(name) => name,
                    Tok::Num(n) => super::value::number_to_string(n),
                    other => {
                        return Err(
                            self.error(format!("expected a name, got {}", describe(&other)))
                        );
                    }
                };
                node = Expr::Member(
                    Box::new(node),
                    Box::new(Expr::Literal(Literal::String(name))),
                );
            } else {
                return Ok(node);
            }
        }
    }

    fn subscript(&mut self, node: Expr) -> Result<Expr> {
        let mut parts: [Option<Box<Expr>>; 3] = [None, None, None];
        let mut part = 0;
        let mut is_slice = false;
        loop {
            if self.skip_op("]") {
                break;
            }
            if self.skip_op(":") {
                is_slice = true;
                part += 1;
                if part > 2 {
                    return Err(self.error("invalid slice"));
                }
                continue;
            }
            parts[part] = Some(Box::new(self.expression()?));
        }
        if is_slice {
            return Ok(Expr::Slice(Box::new(node), parts));
        }
        let key = parts[0]
            .take()
            .ok_or_else(|| self.error("expected an index"))?;
        Ok(Expr::Member(Box::new(node), key))
    }

    fn arguments(&mut self, close: &str) -> Result<Args> {
        let mut args = Args::default();
        loop {
            if self.skip_op(close) {
                return Ok(args);
            }
            if !args.positional.is_empty() || !args.keyword.is_empty() {
                self.expect_op(",")?;
                if self.skip_op(close) {
                    return Ok(args);
                }
            }
            if let (Tok::Name(name), Tok::Op("=")) = (self.peek().clone(), self.peek_at(1).clone())
            {
                self.index += 2;
                args.keyword.push((name, self.expression()?));
            } else {
                args.positional.push(self.expression()?);
            }
        }
    }

    fn primary(&mut self) -> Result<Expr> {
        match self.next() {
            Tok::Str(text) => Ok(Expr::Literal(Literal::String(text))),
            Tok::Num(n) => Ok(Expr::Literal(Literal::Number(n))),
            Tok::Regex(pattern, flags) => Ok(Expr::Regex(pattern, flags)),
            Tok::Name(name) => Ok(match name.as_str() {
                "true" => Expr::Literal(Literal::Bool(true)),
                "false" => Expr::Literal(Literal::Bool(false)),
                "null" | "none" => Expr::Literal(Literal::Null),
                _ => Expr::Name(name),
            }),
            Tok::Op("(") => {
                let first = self.expression()?;
                if self.skip_op(")") {
                    return Ok(first);
                }
                // `(a, b)` is JavaScript's comma operator: the last value.
                let mut last = first;
                while self.skip_op(",") {
                    if self.is_op(")") {
                        break;
                    }
                    last = self.expression()?;
                }
                self.expect_op(")")?;
                Ok(last)
            }
            Tok::Op("[") => {
                let mut items = Vec::new();
                loop {
                    if self.skip_op("]") {
                        return Ok(Expr::Array(items));
                    }
                    if !items.is_empty() {
                        self.expect_op(",")?;
                        if self.skip_op("]") {
                            return Ok(Expr::Array(items));
                        }
                    }
                    items.push(self.expression()?);
                }
            }
            Tok::Op("{") => {
                let mut entries = Vec::new();
                loop {
                    if self.skip_op("}") {
                        return Ok(Expr::Dict(entries));
                    }
                    if !entries.is_empty() {
                        self.expect_op(",")?;
                        if self.skip_op("}") {
                            return Ok(Expr::Dict(entries));
                        }
                    }
                    let key = match self.next() {
                        Tok::Name(name) => Expr::Literal(Literal::String(name)),
                        Tok::Str(text) => Expr::Literal(Literal::String(text)),
                        Tok::Num(n) => {
                            Expr::Literal(Literal::String(super::value::number_to_string(n)))
                        }
                        other => {
                            return Err(self.error(format!(
                                "expected a dictionary key, got {}",
                                describe(&other)
                            )));
                        }
                    };
                    self.expect_op(":")?;
                    entries.push((key, self.expression()?));
                }
            }
            other => Err(self.error(format!("unexpected {}", describe(&other)))),
        }
    }
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Name(name) => format!("\"{name}\""),
        Tok::Str(text) => format!("string \"{text}\""),
        Tok::Num(n) => format!("number {n}"),
        Tok::Regex(p, _) => format!("regex /{p}/"),
        Tok::Op(op) => format!("\"{op}\""),
        Tok::Eof => "end of expression".to_owned(),
    }
}

/// Parses a bare expression (no delimiters).
pub(crate) fn parse_expression(source: &str) -> Result<Expr> {
    let mut parser = ExprParser {
        tokens: tokenize(source, 1)?,
        index: 0,
        line: 1,
    };
    let expr = parser.expression()?;
    if !matches!(parser.peek(), Tok::Eof) {
        return Err(parser.error(format!("unexpected {}", describe(parser.peek()))));
    }
    Ok(expr)
}

/// One piece of template source: text, `${{ expr }}`, or `{% tag %}`.
#[derive(Debug)]
enum Piece {
    Text(String),
    Variable(String, usize),
    Tag(String, usize),
}

pub(crate) struct TemplateOptions {
    pub syntax: Syntax,
    pub trim_blocks: bool,
    pub lstrip_blocks: bool,
}

/// Finds `close` in code, outside string literals.
fn find_code_end(source: &str, start: usize, close: &str) -> Option<usize> {
    let bytes = source.as_bytes();
    let mut index = start;
    let mut quote: Option<u8> = None;
    while index < bytes.len() {
        let b = bytes[index];
        match quote {
            Some(q) => {
                if b == b'\\' {
                    index += 1;
                } else if b == q {
                    quote = None;
                }
            }
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if source[index..].starts_with(close) => return Some(index),
            None => {}
        }
        index += 1;
    }
    None
}

fn split_pieces(source: &str, options: &TemplateOptions) -> Result<Vec<Piece>> {
    let variable_start = match options.syntax {
        Syntax::Backstage => "${{",
        Syntax::Jinja => "{{",
    };
    let mut pieces = Vec::new();
    let mut rest_start = 0;
    let mut strip_next = false;
    let mut trim_newline = false;
    let line_at = |offset: usize| source[..offset].matches('\n').count() + 1;
    loop {
        let rest = &source[rest_start..];
        let next = [
            rest.find(variable_start).map(|i| (i, 0)),
            rest.find("{%").map(|i| (i, 1)),
            rest.find("{#").map(|i| (i, 2)),
        ]
        .into_iter()
        .flatten()
        .min_by_key(|(i, kind)| (*i, *kind));
        let mut text = match next {
            Some((i, _)) => rest[..i].to_owned(),
            None => rest.to_owned(),
        };
        if strip_next {
            text = text.trim_start().to_owned();
        } else if trim_newline
            && let Some(stripped) = text
                .strip_prefix("\r\n")
                .or_else(|| text.strip_prefix('\n'))
        {
            text = stripped.to_owned();
        }
        let Some((offset, kind)) = next else {
            if !text.is_empty() {
                pieces.push(Piece::Text(text));
            }
            return Ok(pieces);
        };
        let open = [variable_start, "{%", "{#"][kind];
        let close = ["}}", "%}", "#}"][kind];
        let tag_start = rest_start + offset;
        let body_start = tag_start + open.len();
        let strip_before = source[body_start..].starts_with('-');
        let line = line_at(tag_start);
        let end = if kind == 2 {
            source[body_start..].find(close).map(|o| body_start + o)
        } else {
            find_code_end(source, body_start, close)
        }
        .ok_or_else(|| ParseError {
            message: format!("expected end of {}", ["variable", "block", "comment"][kind]),
            line,
        })?;
        let strip_after = end > body_start && source[..end].ends_with('-');
        let body = &source[body_start + usize::from(strip_before)..end - usize::from(strip_after)];
        if strip_before {
            text = text.trim_end().to_owned();
        } else if options.lstrip_blocks && kind != 0 {
            // Drop the indentation before a tag that starts its line.
            let line_start = text.rfind('\n').map_or(0, |i| i + 1);
            let at_line_start = line_start > 0
                || pieces.is_empty()
                || matches!(pieces.last(), Some(Piece::Text(t)) if t.ends_with('\n'))
                || tag_start == 0;
            if at_line_start && text[line_start..].chars().all(|c| c == ' ' || c == '\t') {
                text.truncate(line_start);
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        rest_start = end + close.len();
        strip_next = strip_after;
        trim_newline = options.trim_blocks && kind != 0;
        match kind {
            0 => pieces.push(Piece::Variable(body.to_owned(), line)),
            1 => {
                let trimmed = body.trim();
                let tag_name = trimmed.split_whitespace().next().unwrap_or("");
                if tag_name == "raw" || tag_name == "verbatim" {
                    let end_tag = format!("end{tag_name}");
                    let (raw, after) =
                        find_raw_end(source, rest_start, &end_tag).ok_or_else(|| ParseError {
                            message: format!("expected {{% {end_tag} %}}"),
                            line,
                        })?;
                    let mut raw = raw.to_owned();
                    if trim_newline && let Some(s) = raw.strip_prefix('\n') {
                        raw = s.to_owned();
                    }
                    pieces.push(Piece::Text(raw));
                    rest_start = after.0;
                    strip_next = after.1;
                    // nunjucks finds `{% endraw %}` by a regular expression, not as a block
                    // tag, so trimBlocks keeps the line break after it.
                    trim_newline = false;
                } else {
                    pieces.push(Piece::Tag(trimmed.to_owned(), line));
                }
            }
            _ => {}
        }
    }
}

/// Finds `{% endraw %}`: returns the raw text and (offset after the tag, strip-after flag).
fn find_raw_end<'s>(
    source: &'s str,
    start: usize,
    end_tag: &str,
) -> Option<(&'s str, (usize, bool))> {
    let mut search = start;
    while let Some(offset) = source[search..].find("{%") {
        let tag_start = search + offset;
        let body_start = tag_start + 2;
        let close = source[body_start..].find("%}")? + body_start;
        let body = &source[body_start..close];
        let strip_before = body.starts_with('-');
        let strip_after = body.ends_with('-');
        let inner = body.trim_start_matches('-').trim_end_matches('-').trim();
        if inner == end_tag {
            let mut raw = &source[start..tag_start];
            if strip_before {
                raw = raw.trim_end();
            }
            return Some((raw, (close + 2, strip_after)));
        }
        search = close + 2;
    }
    None
}

struct BlockParser {
    pieces: std::vec::IntoIter<Piece>,
}

enum Stop {
    End,
    Tag(String, String, usize),
}

impl BlockParser {
    /// Parses nodes until one of `stops` (a tag name) or the end of the source.
    fn nodes(&mut self, stops: &[&str]) -> Result<(Vec<Node>, Stop)> {
        let mut nodes = Vec::new();
        while let Some(piece) = self.pieces.next() {
            match piece {
                Piece::Text(text) => nodes.push(Node::Text(text)),
                Piece::Variable(body, line) => nodes.push(Node::Output(expr_at(&body, line)?)),
                Piece::Tag(body, line) => {
                    let (name, rest) = body
                        .split_once(char::is_whitespace)
                        .map_or((body.as_str(), ""), |(n, r)| (n, r.trim()));
                    if stops.contains(&name) {
                        return Ok((nodes, Stop::Tag(name.to_owned(), rest.to_owned(), line)));
                    }
                    nodes.push(self.tag(name, rest, line)?);
                }
            }
        }
        Ok((nodes, Stop::End))
    }

    fn expect_end(
        &mut self,
        stops: &[&str],
        opened: &str,
        line: usize,
    ) -> Result<(Vec<Node>, String, String, usize)> {
        match self.nodes(stops)? {
            (nodes, Stop::Tag(name, rest, line)) => Ok((nodes, name, rest, line)),
            (_, Stop::End) => Err(ParseError {
                message: format!("unknown block tag or missing end tag for \"{opened}\""),
                line,
            }),
        }
    }

    fn tag(&mut self, name: &str, rest: &str, line: usize) -> Result<Node> {
        match name {
            "if" => {
                let mut branches = Vec::new();
                let mut condition = expr_at(rest, line)?;
                loop {
                    let (body, stop, stop_rest, stop_line) =
                        self.expect_end(&["elif", "elseif", "else", "endif"], "if", line)?;
                    branches.push((condition, body));
                    match stop.as_str() {
                        "elif" | "elseif" => condition = expr_at(&stop_rest, stop_line)?,
                        "else" => {
                            let (otherwise, _, _, _) = self.expect_end(&["endif"], "if", line)?;
                            return Ok(Node::If(branches, Some(otherwise)));
                        }
                        _ => return Ok(Node::If(branches, None)),
                    }
                }
            }
            "for" => {
                let (targets, iterable) = rest.split_once(" in ").ok_or_else(|| ParseError {
                    message: "expected \"in\" keyword in for loop".into(),
                    line,
                })?;
                let targets = targets
                    .split(',')
                    .map(|t| t.trim().to_owned())
                    .collect::<Vec<_>>();
                let iterable = expr_at(iterable, line)?;
                let (body, stop, _, _) = self.expect_end(&["else", "endfor"], "for", line)?;
                let otherwise = if stop == "else" {
                    Some(self.expect_end(&["endfor"], "for", line)?.0)
                } else {
                    None
                };
                Ok(Node::For {
                    targets,
                    iterable,
                    body,
                    otherwise,
                })
            }
            "set" => match find_assignment(rest) {
                Some(eq) => {
                    let targets = rest[..eq].split(',').map(|t| t.trim().to_owned()).collect();
                    Ok(Node::Set(targets, expr_at(&rest[eq + 1..], line)?))
                }
                None => {
                    let (body, _, _, _) = self.expect_end(&["endset"], "set", line)?;
                    Ok(Node::SetBlock(rest.trim().to_owned(), body))
                }
            },
            "filter" => {
                let (filter_name, args) = match rest.split_once('(') {
                    Some((name, args)) => {
                        let call = expr_at(&format!("x({args}"), line)?;
                        let Expr::Call(_, args) = call else {
                            return Err(ParseError {
                                message: "invalid filter arguments".into(),
                                line,
                            });
                        };
                        (name.trim().to_owned(), args)
                    }
                    None => (rest.trim().to_owned(), Args::default()),
                };
                let (body, _, _, _) = self.expect_end(&["endfilter"], "filter", line)?;
                Ok(Node::FilterBlock(filter_name, args, body))
            }
            other => Err(ParseError {
                message: format!("unknown block tag: {other}"),
                line,
            }),
        }
    }
}

/// The `=` of `{% set x = … %}` (not `==`, outside strings).
fn find_assignment(rest: &str) -> Option<usize> {
    let bytes = rest.as_bytes();
    let mut quote = None;
    for (index, b) in bytes.iter().enumerate() {
        match quote {
            Some(q) if *b == q => quote = None,
            Some(_) => {}
            None if *b == b'"' || *b == b'\'' => quote = Some(*b),
            None if *b == b'='
                && bytes.get(index + 1) != Some(&b'=')
                && index > 0
                && !matches!(bytes[index - 1], b'=' | b'!' | b'<' | b'>') =>
            {
                return Some(index);
            }
            None => {}
        }
    }
    None
}

fn expr_at(source: &str, line: usize) -> Result<Expr> {
    let mut parser = ExprParser {
        tokens: tokenize(source, line)?,
        index: 0,
        line,
    };
    if matches!(parser.peek(), Tok::Eof) {
        return Err(parser.error("expected an expression"));
    }
    let expr = parser.expression()?;
    if !matches!(parser.peek(), Tok::Eof) {
        return Err(parser.error(format!("unexpected {}", describe(parser.peek()))));
    }
    Ok(expr)
}

/// Parses a whole template.
pub(crate) fn parse_template(source: &str, options: &TemplateOptions) -> Result<Vec<Node>> {
    let pieces = split_pieces(source, options)?;
    let mut parser = BlockParser {
        pieces: pieces.into_iter(),
    };
    match parser.nodes(&[])? {
        (nodes, Stop::End) => Ok(nodes),
        (_, Stop::Tag(name, _, line)) => Err(ParseError {
            message: format!("unexpected tag \"{name}\""),
            line,
        }),
    }
}
