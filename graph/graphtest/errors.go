package graphtest

import (
	"net/http"
	"strconv"
	"time"
)

// Graph error codes used by the simulated tenant (same spelling as Graph).
const (
	codeBadRequest          = "BadRequest"
	codeRequestBadRequest   = "Request_BadRequest"
	codeUnsupportedQuery    = "Request_UnsupportedQuery"
	codeResourceNotFound    = "Request_ResourceNotFound"
	codeInvalidAuthToken    = "InvalidAuthenticationToken"
	codeTooManyRequests     = "TooManyRequests"
	codeAuthorizationDenied = "Authorization_RequestDenied"
	codeInternalServerError = "InternalServerError"
	codeServiceUnavailable  = "ServiceUnavailable"
)

// apiResponse is the transport-neutral result of one Graph operation, so the
// same handler can answer a plain HTTP request or a $batch item.
type apiResponse struct {
	status int
	header http.Header
	body   []byte // nil for no body
}

func newJSONResponse(status int, v any) *apiResponse {
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	return &apiResponse{status: status, header: h, body: mustJSON(v)}
}

func newEmptyResponse(status int) *apiResponse {
	return &apiResponse{status: status, header: http.Header{}}
}

func newTextResponse(status int, text string) *apiResponse {
	h := http.Header{}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	return &apiResponse{status: status, header: h, body: []byte(text)}
}

// graphError builds Graph's error envelope:
// {"error":{"code":…,"message":…,"innerError":{"date":…,"request-id":…,"client-request-id":…}}}
func graphError(req *apiRequest, status int, code, message string) *apiResponse {
	inner := jsonObject{
		{"date", req.now.UTC().Format("2006-01-02T15:04:05")},
		{"request-id", req.requestID},
		{"client-request-id", req.clientRequestID},
	}
	return newJSONResponse(status, jsonObject{{"error", jsonObject{
		{"code", code},
		{"message", message},
		{"innerError", inner},
	}}})
}

// withRetryAfter sets Retry-After in whole seconds, at least 1, as Graph does.
func (r *apiResponse) withRetryAfter(d time.Duration) *apiResponse {
	r.header.Set("Retry-After", strconv.Itoa(retryAfterSeconds(d)))
	return r
}

func retryAfterSeconds(d time.Duration) int {
	secs := int((d + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return secs
}

func notFound(req *apiRequest, what string) *apiResponse {
	return graphError(req, http.StatusNotFound, codeResourceNotFound,
		"Resource '"+what+"' does not exist or one of its queried reference-property objects are not present.")
}

func badRequest(req *apiRequest, message string) *apiResponse {
	return graphError(req, http.StatusBadRequest, codeBadRequest, message)
}

func methodNotAllowed(req *apiRequest) *apiResponse {
	return graphError(req, http.StatusMethodNotAllowed, codeRequestBadRequest,
		"Specified HTTP method is not allowed for the request target.")
}

// faultResponse renders an injected or random fault with Graph's code for the status.
func faultResponse(req *apiRequest, status int, retryAfter time.Duration) *apiResponse {
	var code, msg string
	switch status {
	case http.StatusTooManyRequests:
		code, msg = codeTooManyRequests, "Too many requests"
	case http.StatusForbidden:
		code, msg = codeAuthorizationDenied, "Insufficient privileges to complete the operation."
	case http.StatusInternalServerError:
		code, msg = codeInternalServerError, "An internal server error occurred."
	case http.StatusServiceUnavailable:
		code, msg = codeServiceUnavailable, "The service is temporarily unavailable. Please retry later."
	case http.StatusNotFound:
		return notFound(req, req.pathString())
	default:
		code, msg = http.StatusText(status), "Injected fault."
		if code == "" {
			code = "UnknownError"
		}
	}
	resp := graphError(req, status, code, msg)
	if retryAfter > 0 || status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		resp.withRetryAfter(retryAfter)
	}
	return resp
}
