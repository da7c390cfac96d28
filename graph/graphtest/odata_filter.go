package graphtest

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
)

// This file is a small OData v4 $filter implementation: a tokenizer and a
// recursive-descent parser producing an AST evaluated per entity. A real
// parser (rather than regexes) matters because the bot builds filters from
// user input: quote escaping ('') and injection must behave exactly as Graph.
//
// Grammar (precedence low to high):
//
//	expr    = and { "or" and }
//	and     = unary { "and" unary }
//	unary   = "not" unary | primary
//	primary = "(" expr ")" | call | path [ cmp literal | "in" "(" literal { "," literal } ")" ]
//	call    = ("startswith" | "endswith") "(" operand "," literal ")"
//	path    = ident { "/" ident } [ "/" ("any" | "all") "(" [ ident ":" expr ] ")" ]
//	literal = string | "true" | "false" | "null" | datetime
//
// A path with several segments names a member of a complex value ("initiatedBy/app/appId"); the schema lists
// such paths as properties of their own. Inside a lambda over a collection of complex values the range
// variable is followed by a member ("t/id"); over a collection of strings it stands alone.

// queryError is a 400 with a Graph error code; handlers render it verbatim.
type queryError struct {
	code    string
	message string
}

func (e *queryError) Error() string { return e.code + ": " + e.message }

type tokKind int

const (
	tokEOF tokKind = iota
	tokIdent
	tokString
	tokNumber
	tokLParen
	tokRParen
	tokComma
	tokSlash
	tokColon
	tokDateTime
)

type token struct {
	kind tokKind
	text string // identifier text, or the unescaped string literal
	pos  int    // byte offset in the source, for error messages
}

func lexFilter(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '(':
			toks = append(toks, token{tokLParen, "(", i})
			i++
		case c == ')':
			toks = append(toks, token{tokRParen, ")", i})
			i++
		case c == ',':
			toks = append(toks, token{tokComma, ",", i})
			i++
		case c == '/':
			toks = append(toks, token{tokSlash, "/", i})
			i++
		case c == ':':
			toks = append(toks, token{tokColon, ":", i})
			i++
		case c == '\'':
			start := i
			var sb strings.Builder
			i++
			closed := false
			for i < len(src) {
				if src[i] == '\'' {
					if i+1 < len(src) && src[i+1] == '\'' { // '' is an escaped quote
						sb.WriteByte('\'')
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				sb.WriteByte(src[i])
				i++
			}
			if !closed {
				return nil, filterSyntaxError(src, start, "There is an unterminated string literal")
			}
			toks = append(toks, token{tokString, sb.String(), start})
		case dateTimeLiteral.MatchString(src[i:]):
			// Before numbers: a DateTimeOffset literal starts with its four-digit year.
			lit := dateTimeLiteral.FindString(src[i:])
			toks = append(toks, token{tokDateTime, lit, i})
			i += len(lit)
		case c >= '0' && c <= '9' || c == '-' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9':
			start := i
			i++
			for i < len(src) && (src[i] >= '0' && src[i] <= '9' || src[i] == '.') {
				i++
			}
			toks = append(toks, token{tokNumber, src[start:i], start})
		case isIdentStart(rune(c)):
			start := i
			for i < len(src) && isIdentPart(rune(src[i])) {
				i++
			}
			toks = append(toks, token{tokIdent, src[start:i], start})
		default:
			return nil, filterSyntaxError(src, i, fmt.Sprintf("Syntax error: character '%c' is not valid", c))
		}
	}
	return append(toks, token{tokEOF, "", len(src)}), nil
}

// dateTimeLiteral is an unquoted OData DateTimeOffset, e.g. 2024-01-09T21:20:02Z or
// 2024-01-09T21:20:02.7215374+01:00, anchored at the start of the rest of the source.
var dateTimeLiteral = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})`)

func isIdentStart(r rune) bool { return r == '_' || r < unicode.MaxASCII && unicode.IsLetter(r) }
func isIdentPart(r rune) bool {
	return isIdentStart(r) || r >= '0' && r <= '9' || r == '.'
}

func filterSyntaxError(src string, pos int, detail string) *queryError {
	return &queryError{code: codeBadRequest,
		message: fmt.Sprintf("Invalid filter clause: %s at position %d in '%s'.", detail, pos, src)}
}

// filterExpr is a boolean node of the AST.
type filterExpr interface {
	eval(env *filterEnv) bool
}

// filterEnv is the evaluation context: one entity plus, inside a lambda, the
// current collection element: elem for a collection of strings, elemGet for
// one of complex values.
type filterEnv struct {
	get     func(prop string) value
	elem    string
	elemGet func(member string) value
}

type orExpr struct{ l, r filterExpr }
type andExpr struct{ l, r filterExpr }
type notExpr struct{ x filterExpr }

func (e orExpr) eval(env *filterEnv) bool  { return e.l.eval(env) || e.r.eval(env) }
func (e andExpr) eval(env *filterEnv) bool { return e.l.eval(env) && e.r.eval(env) }
func (e notExpr) eval(env *filterEnv) bool { return !e.x.eval(env) }

// operand is a property reference, the lambda variable, or a member of it.
type operand struct {
	prop      string // canonical property name; "" for the lambda variable
	lambdaVar bool
	member    string // with lambdaVar over complex values: the element's member ("id" in t/id)
}

func (o operand) value(env *filterEnv) value {
	switch {
	case o.lambdaVar && o.member != "":
		if env.elemGet == nil {
			return value{kind: kindNull}
		}
		return env.elemGet(o.member)
	case o.lambdaVar:
		return value{kind: kindString, str: env.elem}
	}
	return env.get(o.prop)
}

type compareExpr struct {
	left operand
	op   string
	lit  value
}

func (e compareExpr) eval(env *filterEnv) bool {
	v := e.left.value(env)
	if e.lit.kind == kindNull || v.kind == kindNull {
		same := e.lit.kind == v.kind
		switch e.op {
		case "eq":
			return same
		case "ne":
			return !same
		}
		return false // ordering against null is never true
	}
	if e.lit.kind == kindBool {
		switch e.op {
		case "eq":
			return v.b == e.lit.b
		case "ne":
			return v.b != e.lit.b
		}
		return false
	}
	if e.lit.kind == kindDateTime {
		return v.kind == kindDateTime && compares(e.op, v.t.Compare(e.lit.t))
	}
	// String comparisons are case-insensitive, as in Entra ID.
	return compares(e.op, strings.Compare(strings.ToLower(v.str), strings.ToLower(e.lit.str)))
}

// compares says whether a three-way comparison result c satisfies op.
func compares(op string, c int) bool {
	switch op {
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	}
	return false
}

type inExpr struct {
	left operand
	lits []string
}

func (e inExpr) eval(env *filterEnv) bool {
	v := e.left.value(env)
	if v.kind != kindString {
		return false
	}
	return slices.ContainsFunc(e.lits, func(s string) bool { return strings.EqualFold(s, v.str) })
}

type funcExpr struct {
	name string // "startswith" | "endswith"
	arg  operand
	lit  string
}

func (e funcExpr) eval(env *filterEnv) bool {
	v := e.arg.value(env)
	if v.kind != kindString {
		return false
	}
	s, p := strings.ToLower(v.str), strings.ToLower(e.lit)
	if e.name == "startswith" {
		return strings.HasPrefix(s, p)
	}
	return strings.HasSuffix(s, p)
}

type anyExpr struct {
	prop string
	body filterExpr // nil: "any()" means "collection is not empty"
}

func (e anyExpr) eval(env *filterEnv) bool {
	v := env.get(e.prop)
	list := v.list
	if e.body == nil {
		return len(list)+len(v.objs) > 0
	}
	for _, obj := range v.objs {
		if e.body.eval(&filterEnv{get: env.get, elemGet: obj}) {
			return true
		}
	}
	for _, el := range list {
		inner := &filterEnv{get: env.get, elem: el}
		if e.body.eval(inner) {
			return true
		}
	}
	return false
}

// compiledFilter is a parsed $filter plus facts the handler needs.
type compiledFilter struct {
	expr filterExpr
	// advanced is set when the filter uses operators Graph only serves as an
	// "advanced query" (ne, not, endswith): those need ConsistencyLevel:
	// eventual and $count=true, and production rejects them otherwise.
	advanced bool
}

func (f *compiledFilter) matches(get func(string) value) bool {
	if f == nil || f.expr == nil {
		return true
	}
	return f.expr.eval(&filterEnv{get: get})
}

type filterParser struct {
	src        string
	toks       []token
	pos        int
	schema     *entityType
	lambdaVar  string      // bound variable inside any(...), "" outside
	lambdaElem *entityType // inside any(...) over complex values: their type; nil over strings
	advanced   bool
}

// parseFilter compiles src against schema.
func parseFilter(src string, schema *entityType) (*compiledFilter, error) {
	toks, err := lexFilter(src)
	if err != nil {
		return nil, err
	}
	p := &filterParser{src: src, toks: toks, schema: schema}
	if p.peek().kind == tokEOF {
		return nil, filterSyntaxError(src, 0, "Expression expected")
	}
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, filterSyntaxError(src, t.pos, "Syntax error")
	}
	return &compiledFilter{expr: e, advanced: p.advanced}, nil
}

func (p *filterParser) peek() token { return p.toks[p.pos] }
func (p *filterParser) next() token {
	t := p.toks[p.pos]
	if t.kind != tokEOF {
		p.pos++
	}
	return t
}

func (p *filterParser) isKeyword(t token, kw string) bool {
	return t.kind == tokIdent && strings.EqualFold(t.text, kw)
}

func (p *filterParser) expect(kind tokKind, what string) (token, error) {
	t := p.next()
	if t.kind != kind {
		return t, filterSyntaxError(p.src, t.pos, "'"+what+"' expected")
	}
	return t, nil
}

func (p *filterParser) parseOr() (filterExpr, error) {
	l, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.isKeyword(p.peek(), "or") {
		p.next()
		r, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		l = orExpr{l, r}
	}
	return l, nil
}

func (p *filterParser) parseAnd() (filterExpr, error) {
	l, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for p.isKeyword(p.peek(), "and") {
		p.next()
		r, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		l = andExpr{l, r}
	}
	return l, nil
}

func (p *filterParser) parseUnary() (filterExpr, error) {
	if p.isKeyword(p.peek(), "not") {
		p.next()
		p.advanced = true
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return notExpr{x}, nil
	}
	return p.parsePrimary()
}

func (p *filterParser) parsePrimary() (filterExpr, error) {
	t := p.peek()
	switch t.kind {
	case tokLParen:
		p.next()
		e, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tokRParen, ")"); err != nil {
			return nil, err
		}
		return e, nil
	case tokIdent:
		if p.toks[p.pos+1].kind == tokLParen {
			return p.parseCall()
		}
		return p.parsePathExpr()
	case tokEOF:
		return nil, filterSyntaxError(p.src, t.pos, "Expression expected")
	default:
		return nil, filterSyntaxError(p.src, t.pos, "Syntax error")
	}
}

func (p *filterParser) parseCall() (filterExpr, error) {
	name := p.next()
	fn := strings.ToLower(name.text)
	switch fn {
	case "startswith", "endswith":
	case "contains", "substringof", "indexof", "tolower", "toupper", "length", "trim", "concat":
		return nil, &queryError{code: codeUnsupportedQuery,
			message: fmt.Sprintf("Unsupported Query. Function '%s' is not supported.", name.text)}
	default:
		return nil, &queryError{code: codeBadRequest,
			message: fmt.Sprintf("Invalid filter clause: An unknown function with name '%s' was found.", name.text)}
	}
	if fn == "endswith" {
		p.advanced = true
	}
	p.next() // (
	arg, err := p.parseOperand(true)
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(tokComma, ","); err != nil {
		return nil, err
	}
	lit, err := p.parseLiteral()
	if err != nil {
		return nil, err
	}
	if lit.kind != kindString {
		return nil, incompatible(kindString, lit.kind, fn)
	}
	if _, err := p.expect(tokRParen, ")"); err != nil {
		return nil, err
	}
	return funcExpr{name: fn, arg: arg, lit: lit.str}, nil
}

// parseOperand reads a property name or the lambda variable and checks it is
// a filterable scalar string.
func (p *filterParser) parseOperand(stringOnly bool) (operand, error) {
	t, err := p.expect(tokIdent, "property")
	if err != nil {
		return operand{}, err
	}
	if p.lambdaVar != "" && t.text == p.lambdaVar {
		o, kind, err := p.parseRangeVariable(t)
		if err == nil && stringOnly && kind != kindString {
			err = p.unsupported(o.member)
		}
		return o, err
	}
	prop, err := p.resolveProperty(p.parsePath(t.text))
	if err != nil {
		return operand{}, err
	}
	if prop.kind == kindStringList || prop.kind == kindObjectList || stringOnly && prop.kind != kindString {
		return operand{}, p.unsupported(prop.name)
	}
	return operand{prop: prop.name}, nil
}

// parsePath reads the segments after first that make up one property path ("initiatedBy/app/appId"),
// stopping before a lambda ("/any(").
func (p *filterParser) parsePath(first string) string {
	path := first
	for p.peek().kind == tokSlash && p.toks[p.pos+1].kind == tokIdent {
		seg := p.toks[p.pos+1]
		if (strings.EqualFold(seg.text, "any") || strings.EqualFold(seg.text, "all")) && p.toks[p.pos+2].kind == tokLParen {
			break
		}
		p.pos += 2
		path += "/" + seg.text
	}
	return path
}

// parseRangeVariable reads the lambda variable just consumed as t and, over complex values, the member that
// must follow it.
func (p *filterParser) parseRangeVariable(t token) (operand, valueKind, error) {
	if p.lambdaElem == nil {
		if p.peek().kind == tokSlash {
			return operand{}, 0, filterSyntaxError(p.src, p.peek().pos, "The range variable of a collection of strings has no members")
		}
		return operand{lambdaVar: true}, kindString, nil
	}
	if _, err := p.expect(tokSlash, "/"); err != nil {
		return operand{}, 0, err
	}
	m, err := p.expect(tokIdent, "property")
	if err != nil {
		return operand{}, 0, err
	}
	prop, ok := p.lambdaElem.lookup(m.text)
	if !ok {
		return operand{}, 0, &queryError{code: codeBadRequest,
			message: fmt.Sprintf("Could not find a property named '%s' on type '%s'.", m.text, p.lambdaElem.name)}
	}
	if !prop.filterable || prop.kind == kindStringList || prop.kind == kindObjectList {
		return operand{}, 0, &queryError{code: codeUnsupportedQuery, message: fmt.Sprintf(
			"Unsupported or invalid query filter clause specified for property '%s' of resource '%s'.", prop.name, p.lambdaElem.resource)}
	}
	return operand{lambdaVar: true, member: prop.name}, prop.kind, nil
}

func (p *filterParser) resolveProperty(name string) (property, error) {
	prop, ok := p.schema.lookup(name)
	if !ok {
		return property{}, &queryError{code: codeBadRequest,
			message: fmt.Sprintf("Could not find a property named '%s' on type '%s'.", name, p.schema.name)}
	}
	if !prop.filterable {
		return property{}, p.unsupported(prop.name)
	}
	return prop, nil
}

func (p *filterParser) unsupported(prop string) *queryError {
	return &queryError{code: codeUnsupportedQuery, message: fmt.Sprintf(
		"Unsupported or invalid query filter clause specified for property '%s' of resource '%s'.", prop, p.schema.resource)}
}

func (p *filterParser) parsePathExpr() (filterExpr, error) {
	t := p.peek()
	var left operand
	var kind valueKind
	if p.lambdaVar != "" && t.text == p.lambdaVar {
		p.next()
		var err error
		if left, kind, err = p.parseRangeVariable(t); err != nil {
			return nil, err
		}
	} else {
		p.next()
		prop, err := p.resolveProperty(p.parsePath(t.text))
		if err != nil {
			return nil, err
		}
		if p.peek().kind == tokSlash {
			return p.parseLambda(prop)
		}
		if prop.kind == kindStringList || prop.kind == kindObjectList {
			return nil, p.unsupported(prop.name)
		}
		left, kind = operand{prop: prop.name}, prop.kind
	}

	opTok := p.next()
	if opTok.kind != tokIdent {
		return nil, filterSyntaxError(p.src, opTok.pos, "Syntax error")
	}
	op := strings.ToLower(opTok.text)
	switch op {
	case "eq", "ne", "gt", "ge", "lt", "le":
		if op == "ne" {
			p.advanced = true
		}
		lit, err := p.parseLiteral()
		if err != nil {
			return nil, err
		}
		if lit.kind != kindNull && lit.kind != kind {
			return nil, incompatible(kind, lit.kind, op)
		}
		if kind == kindBool && op != "eq" && op != "ne" {
			return nil, incompatible(kind, lit.kind, op)
		}
		return compareExpr{left: left, op: op, lit: lit}, nil
	case "in":
		if _, err := p.expect(tokLParen, "("); err != nil {
			return nil, err
		}
		var lits []string
		for {
			lit, err := p.parseLiteral()
			if err != nil {
				return nil, err
			}
			if lit.kind != kindString || kind != kindString {
				return nil, incompatible(kind, lit.kind, "in")
			}
			lits = append(lits, lit.str)
			if p.peek().kind == tokComma {
				p.next()
				continue
			}
			break
		}
		if _, err := p.expect(tokRParen, ")"); err != nil {
			return nil, err
		}
		return inExpr{left: left, lits: lits}, nil
	default:
		return nil, filterSyntaxError(p.src, opTok.pos, "Syntax error")
	}
}

func (p *filterParser) parseLambda(prop property) (filterExpr, error) {
	p.next() // '/'
	fnTok, err := p.expect(tokIdent, "any")
	if err != nil {
		return nil, err
	}
	if prop.kind != kindStringList && prop.kind != kindObjectList {
		return nil, p.unsupported(prop.name)
	}
	switch strings.ToLower(fnTok.text) {
	case "any":
	case "all":
		return nil, p.unsupported(prop.name)
	default:
		return nil, filterSyntaxError(p.src, fnTok.pos, "Syntax error")
	}
	if p.lambdaVar != "" {
		return nil, &queryError{code: codeUnsupportedQuery, message: "Unsupported Query. Nested lambda expressions are not supported."}
	}
	if _, err := p.expect(tokLParen, "("); err != nil {
		return nil, err
	}
	if p.peek().kind == tokRParen {
		p.next()
		return anyExpr{prop: prop.name}, nil
	}
	v, err := p.expect(tokIdent, "range variable")
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(tokColon, ":"); err != nil {
		return nil, err
	}
	p.lambdaVar, p.lambdaElem = v.text, prop.elem
	body, err := p.parseOr()
	p.lambdaVar, p.lambdaElem = "", nil
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(tokRParen, ")"); err != nil {
		return nil, err
	}
	return anyExpr{prop: prop.name, body: body}, nil
}

func (p *filterParser) parseLiteral() (value, error) {
	t := p.next()
	switch t.kind {
	case tokString:
		return value{kind: kindString, str: t.text}, nil
	case tokIdent:
		switch t.text {
		case "true", "false":
			return value{kind: kindBool, b: t.text == "true"}, nil
		case "null":
			return value{kind: kindNull}, nil
		}
	case tokDateTime:
		ts, err := time.Parse(time.RFC3339Nano, t.text)
		if err != nil {
			return value{}, filterSyntaxError(p.src, t.pos, fmt.Sprintf("'%s' is not a valid DateTimeOffset", t.text))
		}
		return value{kind: kindDateTime, t: ts}, nil
	case tokNumber:
		return value{}, &queryError{code: codeBadRequest, message: fmt.Sprintf(
			"Invalid filter clause: A binary operator with incompatible types was detected. Found operand types 'Edm.String' and 'Edm.Int32' near position %d in '%s'.", t.pos, p.src)}
	}
	return value{}, filterSyntaxError(p.src, t.pos, "Literal expected")
}

func incompatible(left, right valueKind, op string) *queryError {
	return &queryError{code: codeBadRequest, message: fmt.Sprintf(
		"Invalid filter clause: A binary operator with incompatible types was detected. Found operand types '%s' and '%s' for operator kind '%s'.",
		left, right, op)}
}
