package graphtest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// OData system query options for collections: $select, $filter, $search,
// $top, $count, $orderby, $skiptoken.

const (
	defaultPageSize     = 100
	maxPageSize         = 999
	metadataBase        = "https://graph.microsoft.com/v1.0/$metadata#"
	searchNeedsEventual = "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'"
)

type listOptions struct {
	selected []string // canonical names as requested; nil = default property set
	filter   *compiledFilter
	search   *searchQuery
	top      int
	count    bool
	orderBy  string // canonical property name, "" = by id
	desc     bool
	after    *skipToken
}

// skipToken is keyset pagination state: the last (sort key, id) returned.
// Keyset rather than offset so concurrent adds/deletes never skip or repeat
// an unchanged object.
type skipToken struct {
	Key  string `json:"k"`
	ID   string `json:"i"`
	Desc bool   `json:"d,omitempty"`
}

func (t skipToken) encode() string {
	return base64.RawURLEncoding.EncodeToString(mustJSON(t))
}

func decodeSkipToken(s string) (*skipToken, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("decode skiptoken: %w", err)
	}
	var t skipToken
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("parse skiptoken: %w", err)
	}
	return &t, nil
}

// queryParam returns a system query option, accepting it with or without '$'
// as Graph v1.0 does.
func queryParam(req *apiRequest, name string) (string, bool) {
	if v, ok := req.query["$"+name]; ok && len(v) > 0 {
		return v[0], true
	}
	if v, ok := req.query[name]; ok && len(v) > 0 {
		return v[0], true
	}
	return "", false
}

// parseListOptions validates the query for a collection of schema (the
// filter/search schema); selectable lists the types $select may name.
func parseListOptions(req *apiRequest, schema *entityType, selectable []*entityType, orderable []string) (*listOptions, *apiResponse) {
	opts := &listOptions{top: defaultPageSize}
	fail := func(err error) *apiResponse {
		if qe, ok := err.(*queryError); ok {
			return graphError(req, http.StatusBadRequest, qe.code, qe.message)
		}
		return badRequest(req, err.Error())
	}
	if _, ok := queryParam(req, "skip"); ok {
		return nil, graphError(req, http.StatusBadRequest, codeRequestBadRequest, "'$skip' is not supported by the service.")
	}
	if _, ok := queryParam(req, "expand"); ok {
		return nil, graphError(req, http.StatusBadRequest, codeUnsupportedQuery, "$expand is not supported by the simulated tenant.")
	}
	if v, ok := queryParam(req, "top"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > maxPageSize {
			return nil, badRequest(req, fmt.Sprintf("Invalid page size specified: '%s'. Must be between 1 and %d inclusive.", v, maxPageSize))
		}
		opts.top = n
	}
	if v, ok := queryParam(req, "count"); ok {
		switch strings.ToLower(v) {
		case "true":
			opts.count = true
		case "false":
		default:
			return nil, badRequest(req, fmt.Sprintf("Invalid value '%s' for $count query option found. Valid values are 'true' and 'false'.", v))
		}
	}
	if v, ok := queryParam(req, "select"); ok {
		sel, err := parseSelect(v, selectable)
		if err != nil {
			return nil, fail(err)
		}
		opts.selected = sel
	}
	if v, ok := queryParam(req, "filter"); ok {
		f, err := parseFilter(v, schema)
		if err != nil {
			return nil, fail(err)
		}
		if f.advanced && !(isEventual(req.header) && opts.count) {
			return nil, graphError(req, http.StatusBadRequest, codeUnsupportedQuery,
				"Unsupported Query. Operators 'ne', 'not' and 'endsWith' are advanced queries: send header 'ConsistencyLevel: eventual' and $count=true.")
		}
		opts.filter = f
	}
	if v, ok := queryParam(req, "search"); ok {
		if !isEventual(req.header) {
			return nil, graphError(req, http.StatusBadRequest, codeUnsupportedQuery, searchNeedsEventual)
		}
		q, err := parseSearch(v, schema)
		if err != nil {
			return nil, fail(err)
		}
		opts.search = q
	}
	if v, ok := queryParam(req, "orderby"); ok {
		fields := strings.Fields(v)
		if len(fields) == 0 || len(fields) > 2 {
			return nil, graphError(req, http.StatusBadRequest, codeUnsupportedQuery, "Unsupported $orderby: '"+v+"'.")
		}
		i := slices.IndexFunc(orderable, func(p string) bool { return strings.EqualFold(p, fields[0]) })
		if i < 0 {
			return nil, graphError(req, http.StatusBadRequest, codeUnsupportedQuery,
				fmt.Sprintf("Sorting not supported for '%s'.", fields[0]))
		}
		opts.orderBy = orderable[i]
		if len(fields) == 2 {
			switch strings.ToLower(fields[1]) {
			case "asc":
			case "desc":
				opts.desc = true
			default:
				return nil, badRequest(req, "Invalid $orderby direction '"+fields[1]+"'.")
			}
		}
	}
	if v, ok := queryParam(req, "skiptoken"); ok {
		t, err := decodeSkipToken(v)
		if err != nil || t.Desc != opts.desc {
			return nil, badRequest(req, "Invalid $skiptoken value.")
		}
		opts.after = t
	}
	return opts, nil
}

func parseSelect(v string, types []*entityType) ([]string, error) {
	var out []string
	for _, raw := range strings.Split(v, ",") {
		name := strings.TrimSpace(raw)
		if name == "" {
			continue
		}
		canonical := ""
		for _, t := range types {
			if p, ok := t.lookup(name); ok {
				canonical = p.name
				break
			}
		}
		if canonical == "" {
			return nil, &queryError{code: codeBadRequest, message: fmt.Sprintf(
				"Parsing OData Select and Expand failed: Could not find a property named '%s' on type '%s'.", name, types[0].name)}
		}
		if !slices.Contains(out, canonical) {
			out = append(out, canonical)
		}
	}
	return out, nil
}

// contextURL renders "@odata.context" for an entity set, e.g. #users(id,mail).
func contextURL(set string, selected []string) string {
	if len(selected) == 0 {
		return metadataBase + set
	}
	return metadataBase + set + "(" + strings.Join(selected, ",") + ")"
}

// listEntry is one candidate object of a collection.
type listEntry struct {
	typ *entityType
	obj any
}

func (e listEntry) getter(rc readCtx) func(string) value {
	return func(name string) value {
		p, ok := e.typ.lookup(name)
		if !ok || p.get == nil {
			return value{kind: kindNull}
		}
		return p.get(e.obj, rc)
	}
}

func (e listEntry) id(rc readCtx) string { return e.getter(rc)("id").str }

// render serializes e with the selected (or default) properties; withType
// adds "@odata.type", which Graph sends for members of mixed collections.
func (e listEntry) render(selected []string, withType bool, rc readCtx) jsonObject {
	var o jsonObject
	if withType {
		o = append(o, jsonField{"@odata.type", "#" + e.typ.name})
	}
	if selected == nil {
		for _, p := range e.typ.props {
			if p.isDefault {
				o = append(o, jsonField{p.name, p.json(e.obj, rc)})
			}
		}
		return o
	}
	hasID := false
	for _, name := range selected {
		if p, ok := e.typ.lookup(name); ok {
			o = append(o, jsonField{p.name, p.json(e.obj, rc)})
			hasID = hasID || p.name == "id"
		}
	}
	if !hasID { // the brief's contract: id is always present
		o = append(o, jsonField{"id", e.id(rc)})
	}
	return o
}

// page filters, sorts and pages entries and renders the collection response.
// Caller holds the directory read lock (entries point into it).
func (s *Server) page(req *apiRequest, opts *listOptions, entries []listEntry, set string, withType bool) *apiResponse {
	rc := s.readCtx()
	type keyed struct {
		e       listEntry
		key, id string
	}
	matched := make([]keyed, 0, len(entries))
	for _, e := range entries {
		get := e.getter(rc)
		if !opts.filter.matches(get) || !opts.search.matches(get) {
			continue
		}
		k := keyed{e: e, id: strings.ToLower(get("id").str)}
		if opts.orderBy != "" {
			k.key = strings.ToLower(get(opts.orderBy).str)
		}
		matched = append(matched, k)
	}
	cmp := func(aKey, aID, bKey, bID string) int {
		c := strings.Compare(aKey, bKey)
		if c == 0 {
			c = strings.Compare(aID, bID)
		}
		if opts.desc {
			c = -c
		}
		return c
	}
	slices.SortFunc(matched, func(a, b keyed) int { return cmp(a.key, a.id, b.key, b.id) })

	start := 0
	if t := opts.after; t != nil {
		start, _ = slices.BinarySearchFunc(matched, t, func(k keyed, t *skipToken) int {
			if cmp(k.key, k.id, t.Key, t.ID) <= 0 {
				return -1
			}
			return 1
		})
	}
	end := min(start+opts.top, len(matched))
	values := make([]jsonObject, 0, end-start)
	for _, k := range matched[start:end] {
		values = append(values, k.e.render(opts.selected, withType, rc))
	}

	out := jsonObject{{"@odata.context", contextURL(set, opts.selected)}}
	if opts.count {
		out = append(out, jsonField{"@odata.count", len(matched)})
	}
	if end < len(matched) {
		last := matched[end-1]
		tok := skipToken{Key: last.key, ID: last.id, Desc: opts.desc}
		out = append(out, jsonField{"@odata.nextLink", nextLink(req, tok.encode())})
	}
	out = append(out, jsonField{"value", values})
	return newJSONResponse(http.StatusOK, out)
}

// nextLink is absolute, as Graph's is, and carries the original query
// (minus the old $skiptoken) so the next page uses the same options.
func nextLink(req *apiRequest, token string) string {
	var kept []string
	for _, pair := range strings.Split(req.rawQuery, "&") {
		if pair == "" {
			continue
		}
		k, _, _ := strings.Cut(pair, "=")
		if uk, err := unescapeQuery(k); err == nil && (uk == "$skiptoken" || uk == "skiptoken") {
			continue
		}
		kept = append(kept, pair)
	}
	kept = append(kept, "$skiptoken="+token)
	return req.base + "/v1.0" + req.escapedPath + "?" + strings.Join(kept, "&")
}

func unescapeQuery(s string) (string, error) {
	u, err := url.QueryUnescape(s)
	if err != nil {
		return "", fmt.Errorf("unescape %q: %w", s, err)
	}
	return u, nil
}
