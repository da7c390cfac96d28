package graphtest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// The directory audit log (GET /v1.0/auditLogs/directoryAudits), with the one activity the simulated tenant
// performs for others: every accepted revokeSignInSessions, direct or in $batch, writes an entry in the
// shape Entra ID logs it, so a bot can cross-check its revocations against the log. Reads are served by the
// reporting API, which has its own limit (a few requests per window per app, Options.AuditBudget) and its
// own permission (PermAuditRead).

// ActivityRevokeSignInSessions is the activityDisplayName Entra ID logs for revokeSignInSessions: it sets
// the user's StsRefreshTokenValidFrom.
const ActivityRevokeSignInSessions = "Update StsRefreshTokenValidFrom Timestamp"

// Audit is one directory audit entry as the test hooks see it.
type Audit struct {
	ID            string
	CorrelationID string
	Activity      string    // activityDisplayName
	At            time.Time // activityDateTime, on the simulated Graph's clock
	AppID         string    // initiatedBy.app.appId: the client id of the app that called Graph
	TargetID      string    // targetResources[0].id: the user's object id
	TargetUPN     string
}

// auditEntry is a stored entry: what the revoke knew when it happened (a later rename of the user does not
// rewrite the log).
type auditEntry struct {
	id, correlationID string
	at                time.Time
	appID             string
	targetID          string
	targetName        string
	targetUPN         string
}

func (e *auditEntry) export() Audit {
	return Audit{ID: e.id, CorrelationID: e.correlationID, Activity: ActivityRevokeSignInSessions, At: e.at,
		AppID: e.appID, TargetID: e.targetID, TargetUPN: e.targetUPN}
}

// appDisplayName names the calling app in initiatedBy; only AppClientID is registered.
func appDisplayName(appID string) string {
	if strings.EqualFold(appID, AppClientID) {
		return AppDisplayName
	}
	return ""
}

// formatAuditTime renders activityDateTime as the reporting API does: UTC with seven fractional digits.
func formatAuditTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.0000000Z")
}

// targetResourceType is microsoft.graph.targetResource, the element of targetResources: what a lambda such
// as targetResources/any(t: t/id eq '…') may filter on.
var targetResourceType = newEntityType("microsoft.graph.targetResource", "TargetResource", []property{
	strProp("id", true, true, func(o any) string { return o.(*auditEntry).targetID }),
	strProp("displayName", true, true, func(o any) string { return o.(*auditEntry).targetName }),
	strProp("type", false, true, func(any) string { return "User" }),
	strProp("userPrincipalName", false, true, func(o any) string { return o.(*auditEntry).targetUPN }),
})

func asAudit(o any) *auditEntry { return o.(*auditEntry) }

// auditType is microsoft.graph.directoryAudit. The initiatedBy/... paths are filter-only properties: Graph
// filters on those members of the complex initiatedBy value, which renders whole.
var auditType = newEntityType("microsoft.graph.directoryAudit", "DirectoryAudit", []property{
	strProp("id", true, true, func(o any) string { return asAudit(o).id }),
	strProp("category", true, true, func(any) string { return "UserManagement" }),
	strProp("correlationId", true, true, func(o any) string { return asAudit(o).correlationID }),
	strProp("result", true, true, func(any) string { return "success" }),
	{name: "resultReason", kind: kindString, isDefault: true,
		get: func(any, readCtx) value { return value{kind: kindNull} }, json: func(any, readCtx) any { return "" }},
	strProp("activityDisplayName", true, true, func(any) string { return ActivityRevokeSignInSessions }),
	{name: "activityDateTime", kind: kindDateTime, filterable: true, isDefault: true,
		get:  func(o any, _ readCtx) value { return timeValue(asAudit(o).at) },
		json: func(o any, _ readCtx) any { return formatAuditTime(asAudit(o).at) }},
	strProp("loggedByService", true, true, func(any) string { return "Core Directory" }),
	strProp("operationType", true, true, func(any) string { return "Update" }),
	{name: "initiatedBy", kind: kindString, isDefault: true,
		get: func(any, readCtx) value { return value{kind: kindNull} },
		json: func(o any, _ readCtx) any {
			e := asAudit(o)
			return jsonObject{
				{"user", nil},
				{"app", jsonObject{
					{"appId", e.appID},
					{"displayName", nullable(appDisplayName(e.appID))},
					{"servicePrincipalId", appObjectID},
					{"servicePrincipalName", nil},
				}},
			}
		}},
	{name: "targetResources", kind: kindObjectList, filterable: true, isDefault: true, elem: targetResourceType,
		get: func(o any, rc readCtx) value {
			return value{kind: kindObjectList, objs: []func(string) value{listEntry{typ: targetResourceType, obj: o}.getter(rc)}}
		},
		json: func(o any, _ readCtx) any {
			e := asAudit(o)
			return []jsonObject{{
				{"id", e.targetID},
				{"displayName", nullable(e.targetName)},
				{"type", "User"},
				{"userPrincipalName", nullable(e.targetUPN)},
				{"groupType", nil},
				{"modifiedProperties", []any{}},
			}}
		}},
	{name: "additionalDetails", kind: kindString, isDefault: true,
		get: func(any, readCtx) value { return value{kind: kindNull} }, json: func(any, readCtx) any { return []any{} }},
	strProp("initiatedBy/app/appId", true, false, func(o any) string { return asAudit(o).appID }),
	strProp("initiatedBy/app/displayName", true, false, func(o any) string { return appDisplayName(asAudit(o).appID) }),
	strProp("initiatedBy/user/id", true, false, func(any) string { return "" }),
	strProp("initiatedBy/user/displayName", true, false, func(any) string { return "" }),
	strProp("initiatedBy/user/userPrincipalName", true, false, func(any) string { return "" }),
})

// auditLog is the tenant's directory audit log, guarded by directory.mu.
type auditLog struct {
	entries []*auditEntry
	seq     int
	dropped map[string]bool // lower-case user ids whose entries the log loses (DropAuditFor)
}

// recordRevokeLocked logs an accepted revokeSignInSessions of u by app at now. Caller holds d.mu for writing.
func (d *directory) recordRevokeLocked(u *userRecord, appID string, now time.Time) {
	if d.audit.dropped[strings.ToLower(u.ID)] {
		return
	}
	d.audit.seq++
	corr := newRequestID()
	d.audit.entries = append(d.audit.entries, &auditEntry{
		id:            fmt.Sprintf("Directory_%s_%d", corr, d.audit.seq),
		correlationID: corr,
		at:            now,
		appID:         appID,
		targetID:      u.ID,
		targetName:    u.DisplayName,
		targetUPN:     u.UserPrincipalName,
	})
}

// Audits lists the directory audit log, oldest first.
func (s *Server) Audits() []Audit {
	s.dir.mu.RLock()
	defer s.dir.mu.RUnlock()
	out := make([]Audit, 0, len(s.dir.audit.entries))
	for _, e := range s.dir.audit.entries {
		out = append(out, e.export())
	}
	return out
}

// DropAuditFor makes the audit log lose every entry for one user (by object id or UPN): those written so far
// and all later ones, while the revocations themselves still happen. Entra ID's audit log is not
// transactional with the directory, so a cross-check must be able to find such a gap. It reports whether the
// user exists.
func (s *Server) DropAuditFor(idOrUPN string) bool {
	s.dir.mu.Lock()
	defer s.dir.mu.Unlock()
	u := s.dir.lookupUserLocked(idOrUPN)
	if u == nil {
		return false
	}
	key := strings.ToLower(u.ID)
	s.dir.audit.dropped[key] = true
	s.dir.audit.entries = slices.DeleteFunc(slices.Clone(s.dir.audit.entries), func(e *auditEntry) bool {
		return strings.ToLower(e.targetID) == key
	})
	return true
}

const auditSet = "auditLogs/directoryAudits"

// resolveAuditLogs routes /auditLogs/directoryAudits.
func (s *Server) resolveAuditLogs(req *apiRequest, rest []string) (endpoint, *apiResponse) {
	if len(rest) != 1 || !strings.EqualFold(rest[0], "directoryAudits") {
		return endpoint{}, badRequest(req, fmt.Sprintf("Resource not found for the segment '%s'.", lastSegment(req.segments)))
	}
	if req.method != http.MethodGet {
		return endpoint{}, methodNotAllowed(req)
	}
	return endpoint{report: true, perm: PermAuditRead, handle: s.handleListAudits}, nil
}

// handleListAudits implements GET /auditLogs/directoryAudits: $filter (eq, ge, le, startswith, and/or, any()
// over targetResources), $top, $orderby activityDateTime, and paging by @odata.nextLink. Newest first unless
// $orderby says otherwise, as Graph answers.
func (s *Server) handleListAudits(req *apiRequest) *apiResponse {
	if _, ok := queryParam(req, "search"); ok {
		return graphError(req, http.StatusBadRequest, codeRequestBadRequest, "$search is not supported on directoryAudits.")
	}
	if _, ok := queryParam(req, "orderby"); !ok {
		// Injected rather than defaulted later so the skiptoken of every page carries the same order.
		req.query.Set("$orderby", "activityDateTime desc")
	}
	opts, errResp := parseListOptions(req, auditType, []*entityType{auditType}, []string{"activityDateTime"})
	if errResp != nil {
		return errResp
	}
	s.dir.mu.RLock()
	defer s.dir.mu.RUnlock()
	entries := make([]listEntry, 0, len(s.dir.audit.entries))
	for _, e := range s.dir.audit.entries {
		entries = append(entries, listEntry{typ: auditType, obj: e})
	}
	return s.page(req, opts, entries, auditSet, false)
}
