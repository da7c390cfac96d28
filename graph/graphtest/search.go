package graphtest

import (
	"fmt"
	"strings"
	"unicode"
)

// $search models Entra ID's tokenized directory search: the property value is
// split into words (on whitespace, punctuation and lower→Upper case changes)
// and a term matches when some word starts with it. So "Test" finds "Lester
// Tester" and "Testy McTestface" (Mc|Testface) but not "Cora Contest".
//
// Syntax: "prop:term" clauses in double quotes, joined by AND / OR
// (AND binds tighter), e.g. $search="displayName:Test" OR "mail:qob".

type searchClause struct {
	prop  string   // canonical property name
	terms []string // lower-case word prefixes; all must match
}

// searchQuery is an OR of AND-groups.
type searchQuery struct {
	anyOf [][]searchClause
}

// searchable lists the properties Graph indexes for $search, per entity type.
var searchable = map[string][]string{
	userType.name:            {"displayName", "mail", "userPrincipalName", "givenName", "surname", "proxyAddresses"},
	groupType.name:           {"displayName", "description", "mail", "mailNickname"},
	directoryObjectType.name: {"displayName"},
}

func parseSearch(src string, schema *entityType) (*searchQuery, error) {
	bad := func(detail string) error {
		return &queryError{code: codeBadRequest, message: fmt.Sprintf("Invalid $search: %s in '%s'.", detail, src)}
	}
	q := &searchQuery{}
	var group []searchClause
	s := strings.TrimSpace(src)
	expectClause := true
	for s != "" {
		if expectClause {
			if s[0] != '"' {
				return nil, bad("search clause must be enclosed in double quotes")
			}
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, bad("unterminated quoted search clause")
			}
			clause, err := parseSearchClause(s[1:1+end], schema)
			if err != nil {
				return nil, err
			}
			group = append(group, clause)
			s = strings.TrimSpace(s[end+2:])
			expectClause = false
			continue
		}
		op, rest, _ := strings.Cut(s, " ")
		switch op {
		case "AND":
		case "OR":
			q.anyOf = append(q.anyOf, group)
			group = nil
		default:
			return nil, bad("expected AND or OR between clauses")
		}
		s = strings.TrimSpace(rest)
		expectClause = true
	}
	if expectClause {
		return nil, bad("search clause expected")
	}
	q.anyOf = append(q.anyOf, group)
	return q, nil
}

func parseSearchClause(c string, schema *entityType) (searchClause, error) {
	name, term, ok := strings.Cut(c, ":")
	if !ok {
		return searchClause{}, &queryError{code: codeBadRequest, message: fmt.Sprintf(
			"Invalid $search: search clause '%s' must name a property, e.g. \"displayName:%s\".", c, c)}
	}
	var canonical string
	for _, p := range searchable[schema.name] {
		if strings.EqualFold(p, strings.TrimSpace(name)) {
			canonical = p
		}
	}
	if canonical == "" {
		return searchClause{}, &queryError{code: codeUnsupportedQuery, message: fmt.Sprintf(
			"Unsupported or invalid query search clause specified for property '%s' of resource '%s'.", name, schema.resource)}
	}
	terms := searchTerms(term)
	if len(terms) == 0 {
		return searchClause{}, &queryError{code: codeBadRequest, message: "Invalid $search: empty search term."}
	}
	return searchClause{prop: canonical, terms: terms}, nil
}

// searchTerms splits a query term into words on whitespace and punctuation
// only: what the user typed as one word stays one prefix.
func searchTerms(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// searchTokens splits s into lower-case words the way the directory indexes them.
func searchTokens(s string) []string {
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	var prev rune
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if unicode.IsUpper(r) && unicode.IsLower(prev) {
				flush()
			}
			cur = append(cur, r)
		default:
			flush()
		}
		prev = r
	}
	flush()
	return out
}

func (q *searchQuery) matches(get func(string) value) bool {
	if q == nil {
		return true
	}
	for _, group := range q.anyOf {
		all := true
		for _, c := range group {
			if !c.matches(get(c.prop)) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func (c searchClause) matches(v value) bool {
	var words []string
	switch v.kind {
	case kindString:
		words = searchTokens(v.str)
	case kindStringList:
		for _, s := range v.list {
			words = append(words, searchTokens(s)...)
		}
	default:
		return false
	}
	for _, t := range c.terms {
		found := false
		for _, w := range words {
			if strings.HasPrefix(w, t) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
