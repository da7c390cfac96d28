package graphtest

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// JSON batching (POST /v1.0/$batch). Each item is dispatched through
// serveGraph exactly like a standalone request, and throttled/faulted on its
// own; the envelope itself costs nothing.

const maxBatchItems = 20

type batchRequestItem struct {
	ID        string            `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	Body      json.RawMessage   `json:"body"`
	DependsOn []string          `json:"dependsOn"` // accepted and ignored
}

func (s *Server) serveBatch(req *apiRequest) *apiResponse {
	if req.method != http.MethodPost {
		return methodNotAllowed(req)
	}
	s.stats.batchRequests.Add(1)
	var envelope struct {
		Requests []batchRequestItem `json:"requests"`
	}
	if len(req.body) == 0 {
		return badRequest(req, "Invalid batch payload format.")
	}
	if err := json.Unmarshal(req.body, &envelope); err != nil {
		return badRequest(req, "Invalid batch payload format: "+err.Error())
	}
	if len(envelope.Requests) == 0 {
		return badRequest(req, "Invalid batch payload format: no requests.")
	}
	if len(envelope.Requests) > maxBatchItems {
		return badRequest(req, fmt.Sprintf("Number of requests in the batch exceeds the maximum of %d.", maxBatchItems))
	}
	seen := map[string]bool{}
	for _, it := range envelope.Requests {
		if it.ID == "" || it.Method == "" || it.URL == "" {
			return badRequest(req, "Invalid batch payload format: every request needs id, method and url.")
		}
		if seen[it.ID] {
			return badRequest(req, fmt.Sprintf("Batch request contains duplicate request id '%s'.", it.ID))
		}
		seen[it.ID] = true
	}
	s.stats.batchItems.Add(int64(len(envelope.Requests)))

	responses := make([]jsonObject, 0, len(envelope.Requests))
	for _, it := range envelope.Requests {
		if req.ctx.Err() != nil {
			// The client is gone: stop spending budget on answers nobody reads.
			return graphError(req, http.StatusServiceUnavailable, codeServiceUnavailable, "Request cancelled.")
		}
		resp := s.serveBatchItem(req, it)
		s.countOutcome(resp.status, true)
		responses = append(responses, renderBatchItem(it.ID, resp))
	}
	return newJSONResponse(http.StatusOK, jsonObject{{"responses", responses}})
}

func (s *Server) serveBatchItem(outer *apiRequest, it batchRequestItem) *apiResponse {
	item := &apiRequest{
		ctx: outer.ctx, method: strings.ToUpper(it.Method), base: outer.base, appID: outer.appID,
		now: outer.now, requestID: newRequestID(), clientRequestID: outer.clientRequestID,
		header: http.Header{},
	}
	for k, v := range it.Headers {
		item.header.Set(k, v)
	}
	if len(it.Body) > 0 && string(it.Body) != "null" {
		item.body = it.Body
	}
	// Item URLs are relative to /v1.0, with or without a leading slash.
	u, err := url.Parse(it.URL)
	if err != nil || u.IsAbs() || u.Host != "" {
		return badRequest(item, fmt.Sprintf("Invalid request URL '%s': batch item URLs must be relative.", it.URL))
	}
	item.rawQuery = u.RawQuery
	if item.query, err = url.ParseQuery(u.RawQuery); err != nil {
		return badRequest(item, "Invalid query string: "+err.Error())
	}
	if item.segments, item.escapedPath, err = splitPath(u.EscapedPath()); err != nil {
		return badRequest(item, err.Error())
	}
	return s.serveGraph(item)
}

// renderBatchItem converts an internal response into a batch response entry;
// Graph inlines JSON bodies as objects and omits the body for 204.
func renderBatchItem(id string, resp *apiResponse) jsonObject {
	keys := slices.Sorted(maps.Keys(resp.header))
	headers := make(jsonObject, 0, len(keys))
	for _, k := range keys {
		headers = append(headers, jsonField{k, strings.Join(resp.header[k], ", ")})
	}
	out := jsonObject{{"id", id}, {"status", resp.status}, {"headers", headers}}
	if len(resp.body) > 0 {
		if strings.HasPrefix(resp.header.Get("Content-Type"), "application/json") {
			out = append(out, jsonField{"body", json.RawMessage(resp.body)})
		} else {
			out = append(out, jsonField{"body", string(resp.body)})
		}
	}
	return out
}
