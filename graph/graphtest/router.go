package graphtest

import (
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"
)

const maxBodyBytes = 4 << 20

// apiRequest is one Graph operation independent of transport, so a plain
// HTTP request and a $batch item go through exactly the same code.
type apiRequest struct {
	ctx             context.Context
	method          string
	segments        []string // unescaped path segments after /v1.0
	escapedPath     string   // path after /v1.0 as sent, for @odata.nextLink
	query           url.Values
	rawQuery        string
	header          http.Header
	body            []byte
	base            string // scheme://host the client used
	appID           string
	now             time.Time
	requestID       string
	clientRequestID string
}

func (r *apiRequest) pathString() string { return strings.Join(r.segments, "/") }

// requestBase is the origin the client used, so absolute URLs we hand out
// (nextLink, token endpoint) work whether we're behind Start or httptest.
func requestBase(r *http.Request) string {
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	return scheme + "://" + r.Host
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(mustJSON(v)) // a write error means the client went away
}

func writeAPIResponse(w http.ResponseWriter, resp *apiResponse) {
	for k, vs := range resp.header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.status)
	if resp.body != nil {
		_, _ = w.Write(resp.body)
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	now    func() time.Time // the simulated Graph's clock
}

// WriteHeader stamps Date when the answer is written, as a real server does, on the simulated Graph's clock:
// net/http's automatic Date would carry the host's time, and clients estimate Graph's clock from this header.
func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
		r.Header().Set("Date", r.now().UTC().Format(http.TimeFormat))
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK) // an implicit header would miss the Date stamp
	}
	return r.ResponseWriter.Write(b)
}

// serveHTTP is the top-level handler: common headers, latency, then routing. Every answer goes through the
// statusRecorder, which stamps Date on the simulated clock.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := newRequestID()
	clientReqID := r.Header.Get("client-request-id")
	if clientReqID == "" {
		clientReqID = reqID
	}
	h := w.Header()
	h["request-id"] = []string{reqID} // Graph's lower-case spelling
	h["client-request-id"] = []string{clientReqID}
	h.Set("Date", s.now().UTC().Format(http.TimeFormat))
	h.Set("x-ms-ags-diagnostic", `{"ServerInfo":{"DataCenter":"Simulated","Slice":"E","Ring":"5","ScaleUnit":"000","RoleInstance":"graphtest"}}`)
	// With a reply delay, the answer is written here first and sent only once the delay has passed.
	var out http.ResponseWriter = w
	var held *httptest.ResponseRecorder
	replyDelay := s.currentReplyDelay()
	if replyDelay > 0 {
		held = httptest.NewRecorder()
		maps.Copy(held.Header(), h)
		out = held
	}
	rec := &statusRecorder{ResponseWriter: out, now: s.now}

	if d := s.currentLatency(); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return // client gave up; nothing to answer
		case <-s.closed:
			t.Stop()
			http.Error(rec, "server closed", http.StatusServiceUnavailable)
			return
		}
	}

	s.route(rec, r, reqID, clientReqID)
	if held != nil {
		t := time.NewTimer(replyDelay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return // the client gave up (or died) before the answer reached it; the work is done all the same
		case <-s.closed:
			t.Stop()
			return
		}
		maps.Copy(w.Header(), held.Header())
		w.WriteHeader(held.Code)
		_, _ = w.Write(held.Body.Bytes())
	}
	s.opts.Logger.Debug("graphtest request", "method", r.Method, "path", r.URL.Path,
		"status", rec.status, "duration", time.Since(start), "request_id", reqID)
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, reqID, clientReqID string) {
	path := r.URL.Path
	switch {
	case path == "/.well-known/signoutbot-simulated-tenant":
		s.handleWellKnown(w, r)
		return
	case path == "/v1.0" || strings.HasPrefix(path, "/v1.0/"):
		s.serveGraphHTTP(w, r, reqID, clientReqID)
		return
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) >= 2 {
		tenant, rest := parts[0], strings.Join(parts[1:], "/")
		switch rest {
		case "v2.0/.well-known/openid-configuration":
			s.handleOpenIDConfiguration(w, r, tenant)
			return
		case "oauth2/v2.0/token":
			s.handleToken(w, r, tenant)
			return
		case "discovery/v2.0/keys":
			s.handleJWKS(w, r)
			return
		}
	}
	req := &apiRequest{now: s.now(), requestID: reqID, clientRequestID: clientReqID, segments: []string{path}}
	writeAPIResponse(w, badRequest(req, "Invalid version: "+strings.TrimPrefix(path, "/")))
}

// serveGraphHTTP authenticates a /v1.0 request and dispatches it.
func (s *Server) serveGraphHTTP(w http.ResponseWriter, r *http.Request, reqID, clientReqID string) {
	s.stats.requests.Add(1)
	req := &apiRequest{
		ctx: r.Context(), method: r.Method, header: r.Header, base: requestBase(r),
		now: s.now(), requestID: reqID, clientRequestID: clientReqID,
		rawQuery: r.URL.RawQuery,
	}
	appID, authErr := s.authenticate(r)
	if authErr != "" {
		s.stats.unauthorized.Add(1)
		resp := graphError(req, http.StatusUnauthorized, codeInvalidAuthToken, authErr)
		resp.header.Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`)
		writeAPIResponse(w, resp)
		return
	}
	req.appID = appID
	var err error
	if req.segments, req.escapedPath, err = splitPath(strings.TrimPrefix(r.URL.EscapedPath(), "/v1.0")); err != nil {
		writeAPIResponse(w, badRequest(req, err.Error()))
		return
	}
	if req.query, err = url.ParseQuery(r.URL.RawQuery); err != nil {
		writeAPIResponse(w, badRequest(req, "Invalid query string: "+err.Error()))
		return
	}
	if req.body, err = readBody(r); err != nil {
		writeAPIResponse(w, badRequest(req, err.Error()))
		return
	}
	if len(req.segments) == 1 && req.segments[0] == "$batch" {
		writeAPIResponse(w, s.serveBatch(req))
		return
	}
	resp := s.serveGraph(req)
	s.countOutcome(resp.status, false)
	writeAPIResponse(w, resp)
}

// splitPath splits an escaped path into unescaped segments. Splitting before
// unescaping keeps an encoded '/' inside an id from creating a segment.
func splitPath(escaped string) ([]string, string, error) {
	escaped = "/" + strings.Trim(escaped, "/")
	if escaped == "/" {
		return nil, escaped, nil
	}
	raw := strings.Split(escaped[1:], "/")
	segs := make([]string, len(raw))
	for i, p := range raw {
		u, err := url.PathUnescape(p)
		if err != nil {
			return nil, "", fmt.Errorf("invalid path segment %q: %w", p, err)
		}
		segs[i] = u
	}
	return segs, escaped, nil
}

// readBody reads a request body, transparently gunzipping it: the Kiota
// compression middleware in msgraph-sdk-go gzips every request body.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	var src io.Reader = io.LimitReader(r.Body, maxBodyBytes+1)
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, fmt.Errorf("invalid gzip request body: %w", err)
		}
		defer zr.Close()
		src = io.LimitReader(zr, maxBodyBytes+1)
	}
	b, err := io.ReadAll(src)
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	if len(b) > maxBodyBytes {
		return nil, fmt.Errorf("request body exceeds %d bytes", maxBodyBytes)
	}
	return b, nil
}

// endpoint is a resolved Graph operation with its throttling cost.
type endpoint struct {
	write     bool
	readCost  int    // resource units charged against the read bucket
	report    bool   // a reporting API read: one request against the audit budget, no resource units
	revokeKey string // user id/UPN of a revoke, for fault injection
	readKey   string // user id/UPN of a single-user read, for FailReads
	perm      string // permission the call needs that DenyPermission can take away
	handle    func(*apiRequest) *apiResponse
}

// serveGraph runs one Graph operation: resolve, faults, throttle, handle.
func (s *Server) serveGraph(req *apiRequest) *apiResponse {
	ep, errResp := s.resolve(req)
	if errResp != nil {
		return errResp
	}
	if s.permissionDenied(ep.perm) {
		return forbidden(req)
	}
	if ep.readKey != "" {
		if f, ok := s.takeReadFault(ep.readKey); ok {
			return faultResponse(req, f.status, f.retryAfter)
		}
	}
	if ep.revokeKey != "" {
		if f, ok := s.takeInjectedFault(ep.revokeKey); ok {
			return faultResponse(req, f.status, f.retryAfter)
		}
	}
	if s.randomFault() {
		return faultResponse(req, http.StatusServiceUnavailable, time.Second)
	}
	switch {
	case ep.report:
		s.stats.auditRequests.Add(1)
		if d := s.throttle.take(reportBucket, req.appID, 1); !d.ok {
			return s.throttledResponse(req, reportBucket, d)
		}
	case ep.write:
		if d := s.throttle.take(writeBucket, req.appID, 1); !d.ok {
			return s.throttledResponse(req, writeBucket, d)
		}
	case ep.readCost > 0:
		if d := s.throttle.take(readBucket, req.appID, ep.readCost); !d.ok {
			return s.throttledResponse(req, readBucket, d)
		}
	}
	return ep.handle(req)
}

// Read costs in resource units, after Entra ID's published limits.
const (
	costGetOne  = 1
	costList    = 2
	costMembers = 5
)

// resolve maps method+path to an endpoint, or a 400/404/405.
func (s *Server) resolve(req *apiRequest) (endpoint, *apiResponse) {
	seg := req.segments
	get := func(cost int, h func(*apiRequest) *apiResponse) (endpoint, *apiResponse) {
		if req.method != http.MethodGet {
			return endpoint{}, methodNotAllowed(req)
		}
		return endpoint{readCost: cost, handle: h}, nil
	}
	if len(seg) == 0 {
		return endpoint{}, badRequest(req, "Invalid request: the resource path is empty.")
	}
	switch seg[0] {
	case "users":
		switch {
		case len(seg) == 1:
			return get(costList, s.handleListUsers)
		case len(seg) == 2 && seg[1] == "$count":
			return get(costList, s.handleCountUsers)
		case len(seg) == 2:
			ep, errResp := get(costGetOne, func(r *apiRequest) *apiResponse { return s.handleGetUser(r, seg[1]) })
			ep.readKey = seg[1]
			return ep, errResp
		case len(seg) == 3 && seg[2] == "revokeSignInSessions":
			if req.method != http.MethodPost {
				return endpoint{}, methodNotAllowed(req)
			}
			return endpoint{write: true, revokeKey: seg[1], perm: PermRevokeSessions,
				handle: func(r *apiRequest) *apiResponse { return s.handleRevoke(r, seg[1]) }}, nil
		}
	case "groups":
		switch {
		case len(seg) == 1:
			return get(costList, s.handleListGroups)
		case len(seg) == 2 && seg[1] == "$count":
			return get(costList, s.handleCountGroups)
		case len(seg) == 2:
			return get(costGetOne, func(r *apiRequest) *apiResponse { return s.handleGetGroup(r, seg[1]) })
		case len(seg) == 3 && (seg[2] == "transitiveMembers" || seg[2] == "members"):
			return get(costMembers, func(r *apiRequest) *apiResponse {
				return s.handleMembers(r, seg[1], seg[2] == "transitiveMembers", false)
			})
		case len(seg) == 4 && (seg[2] == "transitiveMembers" || seg[2] == "members") && (seg[3] == "microsoft.graph.user" || seg[3] == "graph.user"): // Graph accepts the short alias msgraph-sdk-go sends
			return get(costMembers, func(r *apiRequest) *apiResponse {
				return s.handleMembers(r, seg[1], seg[2] == "transitiveMembers", true)
			})
		}
	case "policies":
		if len(seg) >= 2 && seg[1] == "tokenLifetimePolicies" {
			return s.resolvePolicies(req, seg[2:])
		}
	case "applications":
		if len(seg) >= 2 {
			return s.resolveApplications(req, seg[1], seg[2:])
		}
	case "auditLogs":
		return s.resolveAuditLogs(req, seg[1:])
	case "$batch":
		return endpoint{}, badRequest(req, "Nested $batch requests are not supported.")
	}
	return endpoint{}, badRequest(req, fmt.Sprintf("Resource not found for the segment '%s'.", lastSegment(seg)))
}

func lastSegment(seg []string) string {
	if len(seg) == 0 {
		return ""
	}
	return seg[len(seg)-1]
}

// decodeJSONBody unmarshals a request body into v with a Graph-style 400.
func decodeJSONBody(req *apiRequest, v any) *apiResponse {
	if len(req.body) == 0 {
		return badRequest(req, "Empty Payload. JSON content expected.")
	}
	if err := json.Unmarshal(req.body, v); err != nil {
		return badRequest(req, "Invalid JSON payload: "+err.Error())
	}
	return nil
}
