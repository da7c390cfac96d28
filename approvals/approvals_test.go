package approvals_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/approvals"
	"github.com/signoutbot/signoutbot/store"
)

var (
	now   = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	alice = store.Actor{Platform: "slack", ID: "UALICE", Name: "alice"}
	bob   = store.Actor{Platform: "slack", ID: "UBOB", Name: "bob"}
	carol = store.Actor{Platform: "slack", ID: "UCAROL", Name: "carol"}
	// The same id on another platform is another person.
	aliceOnTeams = store.Actor{Platform: "teams", ID: "UALICE", Name: "alice"}
)

func pending(required int, approvals ...store.Actor) store.Request {
	r := store.Request{ID: "R1", Status: store.StatusPending, Requester: alice, RequiredApprovals: required,
		CreatedAt: now.Add(-time.Minute), ExpiresAt: now.Add(29 * time.Minute)}
	for _, a := range approvals {
		r.Approvals = append(r.Approvals, store.Approval{Actor: a, At: now})
	}
	return r
}

func TestAuthorize(t *testing.T) {
	expired := pending(1)
	expired.ExpiresAt = now
	denied := pending(1)
	denied.Status = store.StatusDenied
	running := pending(1)
	running.Status = store.StatusRunning
	tests := []struct {
		name   string
		p      approvals.Principal
		act    approvals.Action
		req    *store.Request
		refuse string // "" means allowed
	}{
		{"admin requests", approvals.Principal{Actor: alice, Admin: true}, approvals.ActRequest, nil, ""},
		{"non-admin requests", approvals.Principal{Actor: carol}, approvals.ActRequest, nil, "Only configured sign-out admins"},
		{"non-admin approves", approvals.Principal{Actor: carol}, approvals.ActApprove, ptr(pending(1)), "Only configured sign-out admins"},
		{"non-admin denies", approvals.Principal{Actor: carol}, approvals.ActDeny, ptr(pending(1)), "Only configured sign-out admins"},
		{"second admin approves", approvals.Principal{Actor: bob, Admin: true}, approvals.ActApprove, ptr(pending(1)), ""},
		{"requester approves own", approvals.Principal{Actor: alice, Admin: true}, approvals.ActApprove, ptr(pending(1)), "cannot approve it"},
		{"same id on another platform", approvals.Principal{Actor: aliceOnTeams, Admin: true}, approvals.ActApprove, ptr(pending(1)), ""},
		{"approves twice", approvals.Principal{Actor: bob, Admin: true}, approvals.ActApprove, ptr(pending(2, bob)), "already approved"},
		{"second approver of two", approvals.Principal{Actor: carol, Admin: true}, approvals.ActApprove, ptr(pending(2, bob)), ""},
		{"approve at expiry", approvals.Principal{Actor: bob, Admin: true}, approvals.ActApprove, &expired, "expired"},
		{"approve denied", approvals.Principal{Actor: bob, Admin: true}, approvals.ActApprove, &denied, "already denied"},
		{"deny running", approvals.Principal{Actor: bob, Admin: true}, approvals.ActDeny, &running, "already running"},
		{"requester cancels", approvals.Principal{Actor: alice, Admin: true}, approvals.ActCancel, ptr(pending(1)), ""},
		{"cancel missing request", approvals.Principal{Actor: alice, Admin: true}, approvals.ActCancel, nil, "No such request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := approvals.Authorize(tt.p, tt.act, tt.req, now)
			if tt.refuse == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ref *approvals.Refusal
			if !errors.As(err, &ref) || !strings.Contains(ref.Reason, tt.refuse) {
				t.Fatalf("got %v, want a refusal mentioning %q", err, tt.refuse)
			}
		})
	}
}

func TestApprovedNeedsQuorumOfOthers(t *testing.T) {
	tests := []struct {
		name string
		r    store.Request
		want bool
	}{
		{"none", pending(1), false},
		{"one of one", pending(1, bob), true},
		{"one of two", pending(2, bob), false},
		{"two of two", pending(2, bob, carol), true},
		{"requester's own does not count", pending(1, alice), false},
		{"requester plus one of two", pending(2, alice, bob), false},
		{"zero required still needs one", pending(0), false},
	}
	for _, tt := range tests {
		if got := approvals.Approved(tt.r); got != tt.want {
			t.Errorf("%s: Approved = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestPolicy(t *testing.T) {
	p := approvals.Policy{}.WithDefaults()
	if p.QuorumAbove != 100 || p.Expiry != 30*time.Minute {
		t.Errorf("defaults = %+v", p)
	}
	for n, want := range map[int]int{1: 1, 100: 1, 101: 2, 10000: 2} {
		if got := p.RequiredApprovals(n); got != want {
			t.Errorf("RequiredApprovals(%d) = %d, want %d", n, got, want)
		}
	}
}

func ptr[T any](v T) *T { return &v }
