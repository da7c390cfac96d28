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
	alice = store.Actor{Platform: "slack", ID: "UALICE", Name: "alice", Entra: "e-alice"}
	bob   = store.Actor{Platform: "slack", ID: "UBOB", Name: "bob", Entra: "e-bob"}
	carol = store.Actor{Platform: "slack", ID: "UCAROL", Name: "carol", Entra: "e-carol"}
	// The same chat id on another platform, bound to another Entra user, is another person.
	aliceIDOnTeams = store.Actor{Platform: "teams", ID: "UALICE", Name: "alice", Entra: "e-dave"}
	// A second Slack account carrying Alice's UPN resolves to Alice's Entra user: still Alice.
	aliceSecondAccount = store.Actor{Platform: "slack", ID: "UALICE2", Name: "alice.alt", Entra: "E-ALICE"}
	bobSecondAccount   = store.Actor{Platform: "slack", ID: "UBOB2", Name: "bob.alt", Entra: "e-bob"}
	unbound            = store.Actor{Platform: "slack", ID: "UNOBODY", Name: "nobody"}
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
		{"same chat id, other platform and Entra user", approvals.Principal{Actor: aliceIDOnTeams, Admin: true}, approvals.ActApprove, ptr(pending(1)), ""},
		{"requester's second chat account approves", approvals.Principal{Actor: aliceSecondAccount, Admin: true}, approvals.ActApprove, ptr(pending(1)), "cannot approve it"},
		{"approver's second chat account approves again", approvals.Principal{Actor: bobSecondAccount, Admin: true}, approvals.ActApprove, ptr(pending(2, bob)), "already approved"},
		{"admin without an Entra user requests", approvals.Principal{Actor: unbound, Admin: true}, approvals.ActRequest, nil, "Entra user"},
		{"admin without an Entra user approves", approvals.Principal{Actor: unbound, Admin: true}, approvals.ActApprove, ptr(pending(1)), "Entra user"},
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
		{"one person's two accounts count once", pending(2, bob, bobSecondAccount), false},
		{"requester's second account does not count", pending(1, aliceSecondAccount), false},
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

func TestDecide(t *testing.T) {
	admin := func(a store.Actor) approvals.Principal { return approvals.Principal{Actor: a, Admin: true} }
	tests := []struct {
		name   string
		p      approvals.Principal
		act    approvals.Action
		status store.RequestStatus // "" means refused
	}{
		{"another admin denies", admin(bob), approvals.ActDeny, store.StatusDenied},
		{"requester denies own: recorded as a cancel", admin(alice), approvals.ActDeny, store.StatusCancelled},
		{"requester's second account denies: a cancel too", admin(aliceSecondAccount), approvals.ActDeny, store.StatusCancelled},
		{"another admin cancels", admin(bob), approvals.ActCancel, store.StatusCancelled},
		{"non-admin denies", approvals.Principal{Actor: carol}, approvals.ActDeny, ""},
		{"approve is not a decision", admin(bob), approvals.ActApprove, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := pending(1)
			got, ev, err := approvals.Decide(before, tt.p, tt.act, now, "wrong group")
			if tt.status == "" {
				if err == nil || got.Status != store.StatusPending {
					t.Fatalf("Decide = %s, %v; want a refusal and no change", got.Status, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tt.status || ev.Type != string(tt.status) || !got.DecidedAt.Equal(now) || got.DecidedBy != tt.p.Actor {
				t.Errorf("Decide = %+v, event %+v", got, ev)
			}
			if !strings.Contains(ev.Detail, "wrong group") || got.DecisionNote != "wrong group" {
				t.Errorf("event detail %q lacks the reason", ev.Detail)
			}
			if before.Status != store.StatusPending {
				t.Error("Decide changed its input")
			}
		})
	}
}

func TestQuorumAndExpire(t *testing.T) {
	if _, _, ok := approvals.Quorum(pending(2, bob), bob, now); ok {
		t.Error("quorum reached with one of two approvals")
	}
	r, ev, ok := approvals.Quorum(pending(2, bob, carol), carol, now)
	if !ok || r.Status != store.StatusApproved || ev.Type != "quorum" || !strings.Contains(ev.Detail, "bob and carol") {
		t.Errorf("Quorum = %v %+v %+v", ok, r, ev)
	}
	if _, _, ok := approvals.Quorum(r, carol, now); ok {
		t.Error("quorum applied twice")
	}
	if _, _, ok := approvals.Expire(pending(1), now); ok {
		t.Error("expired before ExpiresAt")
	}
	r, ev, ok = approvals.Expire(pending(1), now.Add(time.Hour))
	if !ok || r.Status != store.StatusExpired || ev.Type != "expired" {
		t.Errorf("Expire = %v %+v %+v", ok, r, ev)
	}
}
