package graph_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/graph/graphtest"
)

// normalJSON re-encodes a JSON document with sorted keys and no spaces, so two definitions that say the same
// thing compare equal byte for byte.
func normalJSON(t *testing.T, doc string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatalf("definition %q: %v", doc, err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func orgDefaults(srv *graphtest.Server) []graphtest.Policy {
	var out []graphtest.Policy
	for _, p := range srv.Policies() {
		if p.IsOrganizationDefault {
			out = append(out, p)
		}
	}
	return out
}

func TestSetAndRestoreOrganizationDefault(t *testing.T) {
	tests := []struct {
		name        string
		seed        string // the organization default's definition; "" for none
		seedName    string
		seedLife    time.Duration // what the seed sets, for the snapshot
		d           time.Duration
		displayName string
		wantDef     string // the organization default's definition while set, compared after normalisation
		wantRaw     string // and byte for byte, when not ""
		wantName    string
	}{
		{
			name: "no policy: one is created, and the restore deletes it",
			d:    10 * time.Minute, displayName: "Cutover 10 min",
			wantDef:  `{"TokenLifetimePolicy":{"Version":1,"AccessTokenLifetime":"00:10:00"}}`,
			wantName: "Cutover 10 min",
		},
		{
			name:     "no policy and no name: Entra's longest lifetime under the default name",
			d:        24 * time.Hour,
			wantDef:  `{"TokenLifetimePolicy":{"Version":1,"AccessTokenLifetime":"1.00:00:00"}}`,
			wantName: graph.DefaultCutoverPolicyName,
		},
		{
			name:     "existing policy with other keys: only the lifetime changes, in its place",
			seed:     `{ "TokenLifetimePolicy": { "Version": 1, "MaxInactiveTime": "20:00:00", "AccessTokenLifetime": "02:00:00", "MaxAgeSessionSingleFactor": "until-revoked" } }`,
			seedName: "Contoso default", seedLife: 2 * time.Hour,
			d: 10 * time.Minute, displayName: "Cutover",
			wantDef:  `{"TokenLifetimePolicy":{"Version":1,"MaxInactiveTime":"20:00:00","AccessTokenLifetime":"00:10:00","MaxAgeSessionSingleFactor":"until-revoked"}}`,
			wantRaw:  `{"TokenLifetimePolicy":{"Version":1,"MaxInactiveTime":"20:00:00","AccessTokenLifetime":"00:10:00","MaxAgeSessionSingleFactor":"until-revoked"}}`,
			wantName: "Cutover",
		},
		{
			name:     "existing policy spelling the key in lower case: replaced, not doubled",
			seed:     `{"TokenLifetimePolicy":{"Version":1,"accessTokenLifetime":"04:00:00"}}`,
			seedName: "Lower case", seedLife: 4 * time.Hour,
			d: 30 * time.Minute, displayName: "Lower case",
			wantRaw:  `{"TokenLifetimePolicy":{"Version":1,"AccessTokenLifetime":"00:30:00"}}`,
			wantDef:  `{"TokenLifetimePolicy":{"Version":1,"AccessTokenLifetime":"00:30:00"}}`,
			wantName: "Lower case",
		},
		{
			name:     "existing policy without an access-token lifetime, and no new name",
			seed:     `{"TokenLifetimePolicy":{"Version":1,"MaxInactiveTime":"20:00:00"}}`,
			seedName: "Refresh only",
			d:        15 * time.Minute,
			wantRaw:  `{"TokenLifetimePolicy":{"Version":1,"MaxInactiveTime":"20:00:00","AccessTokenLifetime":"00:15:00"}}`,
			wantDef:  `{"TokenLifetimePolicy":{"Version":1,"MaxInactiveTime":"20:00:00","AccessTokenLifetime":"00:15:00"}}`,
			wantName: "Refresh only",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newTenant(t, graphtest.Options{Users: 5, BigGroupSize: 5}, graph.Config{})
			var wantPrev graph.PolicySnapshot
			if tt.seed != "" {
				id := srv.AddPolicy(graphtest.Policy{DisplayName: tt.seedName, Definition: []string{tt.seed}, IsOrganizationDefault: true})
				wantPrev = graph.PolicySnapshot{ID: id, DisplayName: tt.seedName, Definition: []string{tt.seed},
					IsOrganizationDefault: true, Lifetime: tt.seedLife}
			}
			// A policy assigned to an app is no organization default: it must come through untouched. (Shorter
			// than any window here, so the organization default is what AccessTokenLifetime reports.)
			other := srv.AddTokenLifetimePolicy("Kiosk tokens", 5*time.Minute)
			assign(t, srv, other, "Kiosk")
			before := srv.Policies()

			snap, found, err := c.OrganizationDefaultPolicy(ctx(t))
			if err != nil || found != (tt.seed != "") || !reflect.DeepEqual(snap, wantPrev) {
				t.Fatalf("OrganizationDefaultPolicy = %+v, %v, %v; want %+v, %v", snap, found, err, wantPrev, tt.seed != "")
			}

			prev, hadPrev, createdID, err := c.SetOrganizationDefaultLifetime(ctx(t), tt.d, tt.displayName)
			if err != nil {
				t.Fatal(err)
			}
			if hadPrev != (tt.seed != "") || !reflect.DeepEqual(prev, wantPrev) || (createdID == "") != hadPrev {
				t.Fatalf("Set = prev %+v, hadPrev %v, createdID %q; want prev %+v, hadPrev %v and a createdID only without one",
					prev, hadPrev, createdID, wantPrev, tt.seed != "")
			}
			defs := orgDefaults(srv)
			if len(defs) != 1 || len(defs[0].Definition) != 1 || defs[0].DisplayName != tt.wantName ||
				normalJSON(t, defs[0].Definition[0]) != normalJSON(t, tt.wantDef) || tt.wantRaw != "" && defs[0].Definition[0] != tt.wantRaw {
				t.Fatalf("organization defaults while set: %+v;\nwant one named %q with %s", defs, tt.wantName, tt.wantDef)
			}
			if createdID != "" && defs[0].ID != createdID {
				t.Errorf("createdID %q, but the organization default is %s", createdID, defs[0].ID)
			}
			// The bot's own reading of the lifetime sees the window's value: the kiosk policy is shorter.
			if lt, err := c.AccessTokenLifetime(ctx(t)); err != nil || lt.Lifetime != tt.d || lt.Source != `organization-default policy "`+tt.wantName+`"` {
				t.Errorf("AccessTokenLifetime while set = %+v, %v; want %s from %q", lt, err, tt.d, tt.wantName)
			}

			for i := range 2 { // a second restore must change nothing and fail on nothing
				if err := c.RestoreOrganizationDefault(ctx(t), prev, hadPrev, createdID); err != nil {
					t.Fatalf("restore %d: %v", i+1, err)
				}
				if after := srv.Policies(); !reflect.DeepEqual(after, before) {
					t.Fatalf("after restore %d the policies are\n%+v\nwant exactly\n%+v", i+1, after, before)
				}
			}
		})
	}
}

func TestSetOrganizationDefaultLifetimeRefusesOutOfRange(t *testing.T) {
	srv, c := newTenant(t, graphtest.Options{Users: 5, BigGroupSize: 5}, graph.Config{})
	srv.SetOrganizationDefaultPolicy("Existing", 2*time.Hour)
	before := srv.Policies()
	for _, d := range []time.Duration{0, -time.Hour, 10*time.Minute - time.Second, 24*time.Hour + time.Second, 90 * 24 * time.Hour} {
		t.Run(d.String(), func(t *testing.T) {
			requests := srv.Stats().Requests
			prev, hadPrev, createdID, err := c.SetOrganizationDefaultLifetime(ctx(t), d, "Cutover")
			if !errors.Is(err, graph.ErrLifetimeOutOfRange) || !strings.Contains(err.Error(), "10 minutes to 1 day") {
				t.Fatalf("Set(%s) error = %v; want ErrLifetimeOutOfRange naming 10 minutes to 1 day", d, err)
			}
			if hadPrev || createdID != "" || !reflect.DeepEqual(prev, graph.PolicySnapshot{}) {
				t.Errorf("Set(%s) = %+v, %v, %q alongside the refusal; want nothing to restore", d, prev, hadPrev, createdID)
			}
			if n := srv.Stats().Requests - requests; n != 0 {
				t.Errorf("Set(%s) sent %d Graph requests before refusing; want none", d, n)
			}
		})
	}
	if after := srv.Policies(); !reflect.DeepEqual(after, before) {
		t.Errorf("refusals changed the policies: %+v", after)
	}
}

// TestPolicyWritesWithoutPermission denies Policy.ReadWrite.ApplicationConfiguration: setting and restoring
// fail with a 403 *APIError that a caller can turn into "grant this", nothing changes, and reads still work.
func TestPolicyWritesWithoutPermission(t *testing.T) {
	tests := []struct {
		name     string
		existing bool
	}{
		{"no organization default (create)", false},
		{"existing organization default (update)", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newTenant(t, graphtest.Options{Users: 5, BigGroupSize: 5}, graph.Config{})
			if tt.existing {
				srv.SetOrganizationDefaultPolicy("Existing", 2*time.Hour)
			}
			before := srv.Policies()
			srv.DenyPermission(graphtest.PermPolicyWrite)
			is403 := func(err error) bool {
				var ae *graph.APIError
				return errors.As(err, &ae) && ae.Status == http.StatusForbidden && ae.Code == "Authorization_RequestDenied"
			}
			prev, hadPrev, createdID, err := c.SetOrganizationDefaultLifetime(ctx(t), 10*time.Minute, "Cutover")
			if !is403(err) {
				t.Fatalf("Set = %v; want an error wrapping *APIError 403", err)
			}
			if createdID != "" || hadPrev != tt.existing {
				t.Errorf("Set = hadPrev %v, createdID %q; want hadPrev %v (what may need restoring) and no id", hadPrev, createdID, tt.existing)
			}
			if after := srv.Policies(); !reflect.DeepEqual(after, before) {
				t.Errorf("a refused write changed the policies: %+v", after)
			}
			if _, found, err := c.OrganizationDefaultPolicy(ctx(t)); err != nil || found != tt.existing {
				t.Errorf("OrganizationDefaultPolicy with writes denied = %v, %v; reads must still work", found, err)
			}
			if _, err := c.AccessTokenLifetime(ctx(t)); err != nil {
				t.Errorf("AccessTokenLifetime with writes denied: %v", err)
			}
			if tt.existing {
				if err := c.RestoreOrganizationDefault(ctx(t), prev, hadPrev, ""); !is403(err) {
					t.Errorf("Restore = %v; want an error wrapping *APIError 403", err)
				}
				return
			}
			created := srv.AddTokenLifetimePolicy("To delete", time.Hour) // as if an earlier Set had made it
			if err := c.RestoreOrganizationDefault(ctx(t), graph.PolicySnapshot{}, false, created); !is403(err) {
				t.Errorf("Restore (delete) = %v; want an error wrapping *APIError 403", err)
			}
		})
	}
}

// TestCreateOrganizationDefaultSurvivesALostAnswer puts a proxy in front of the tenant that loses the answer to
// the first POST of a token lifetime policy: in one case after the tenant created it, in the other after an
// admin created another organization default instead. The retry must adopt the first and refuse the second,
// and never leave two organization defaults.
func TestCreateOrganizationDefaultSurvivesALostAnswer(t *testing.T) {
	tests := []struct {
		name    string
		first   func(srv *graphtest.Server, r *http.Request) // what happens to the first POST before its answer is lost
		wantErr string
		wantOrg string // display name of the one organization default afterwards
	}{
		{
			name: "created, answer lost: adopted",
			first: func(srv *graphtest.Server, r *http.Request) {
				srv.Handler().ServeHTTP(httptest.NewRecorder(), r)
			},
			wantOrg: "Cutover",
		},
		{
			name: "someone else's appeared: no second one",
			first: func(srv *graphtest.Server, _ *http.Request) {
				srv.SetOrganizationDefaultPolicy("Admin's own", time.Hour)
			},
			wantErr: "appeared meanwhile",
			wantOrg: "Admin's own",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := graphtest.New(graphtest.Options{Users: 5, BigGroupSize: 5})
			var posts atomic.Int32
			proxy := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/policies/tokenLifetimePolicies") && posts.Add(1) == 1 {
					body, _ := io.ReadAll(r.Body)
					r.Body = io.NopCloser(bytes.NewReader(body))
					tt.first(srv, r)
					http.Error(w, `{"error":{"code":"ServiceUnavailable","message":"lost"}}`, http.StatusServiceUnavailable)
					return
				}
				srv.Handler().ServeHTTP(w, r)
			}))
			t.Cleanup(proxy.Close)
			roots := x509.NewCertPool()
			roots.AddCert(proxy.Certificate())
			cred, err := graph.SimulatedCredential(context.Background(), proxy.URL+"/v1.0", roots)
			if err != nil {
				t.Fatal(err)
			}
			c, err := graph.New(graph.Config{GraphURL: proxy.URL + "/v1.0", Credential: cred, RootCAs: roots, RetryBaseDelay: 10 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}

			_, _, createdID, err := c.SetOrganizationDefaultLifetime(ctx(t), 10*time.Minute, "Cutover")
			defs := orgDefaults(srv)
			if len(defs) != 1 || defs[0].DisplayName != tt.wantOrg {
				t.Fatalf("organization defaults afterwards: %+v; want exactly one, %q", defs, tt.wantOrg)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || createdID != "" {
					t.Fatalf("Set = %q, %v; want no id and an error saying %q", createdID, err, tt.wantErr)
				}
				return
			}
			if err != nil || createdID != defs[0].ID {
				t.Fatalf("Set = %q, %v; want the id of the policy the lost answer created, %s", createdID, err, defs[0].ID)
			}
			if posts.Load() != 1 {
				t.Errorf("%d POSTs; the retry should have found the policy instead of creating another", posts.Load())
			}
		})
	}
}
