package bot

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/revocation"
	"github.com/signoutbot/signoutbot/store"
)

// plainText is a message's text for assertions on wording (markers resolved as PlainText does).
func plainText(m Message) string {
	var b strings.Builder
	b.WriteString(m.Text + "\n")
	for _, bl := range m.Blocks {
		b.WriteString(bl.Text + "\n")
		for _, f := range bl.Fields {
			b.WriteString(f + "\n")
		}
		for _, btn := range bl.Buttons {
			if btn.Confirm != nil {
				b.WriteString(btn.Confirm.Title + "\n" + btn.Confirm.Text + "\n")
			}
		}
	}
	return PlainText(b.String())
}

func target(upn string, status store.TargetStatus, detail string) store.Target {
	t := store.Target{UserID: "id-" + upn, UPN: upn + "@contoso.com", DisplayName: strings.ToUpper(upn[:1]) + upn[1:], Status: status, Detail: detail}
	if status != store.TargetPending && status != store.TargetExcluded && status != store.TargetFailed {
		t.RevokedAt = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	}
	return t
}

// "every client is signed out" is said only when every in-scope user this tenant can sign out reached "access
// tokens expired"; otherwise the card and the thread say "N of M" and name the rest with their reasons.
func TestFinalClaimFollowsTheEvidence(t *testing.T) {
	a := &App{Clock: nil, Log: slog.New(slog.DiscardHandler)}
	deadline := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	done := store.Request{ID: "R1", Status: store.StatusDone, TokensExpireAt: deadline, TokenLifetime: 2 * time.Hour,
		LifetimeSource: "no token lifetime policy in the tenant", Requester: store.Actor{Platform: "slack", ID: "UA", Name: "alice"},
		Approvals: []store.Approval{{Actor: store.Actor{Platform: "slack", ID: "UB", Name: "bob"}}}}
	guest := target("jane", store.TargetGuest, "not signed out: guest — revoke in the home tenant")
	guest.Guest = true
	tests := []struct {
		name    string
		targets []store.Target
		want    []string
		notWant []string
	}{
		{"all signed out", []store.Target{target("lester", store.TargetTokensExpired, ""), target("testy", store.TargetTokensExpired, "")},
			[]string{"every client is signed out", "done: every client is signed out"}, []string{"of 2 users"}},
		{"one failed", []store.Target{target("lester", store.TargetTokensExpired, ""),
			target("testy", store.TargetFailed, "HTTP 500 InternalServerError boom")},
			[]string{"1 of 2 users signed out", "Testy", "HTTP 500 InternalServerError boom", "done: 1 of 2 users signed out"},
			[]string{"every client is signed out"}},
		{"one could not be confirmed", []store.Target{target("lester", store.TargetTokensExpired, ""),
			target("testy", store.TargetUnconfirmed, "could not confirm: Graph shows signInSessionsValidFromDateTime 2026-12-01T10:00:00Z")},
			[]string{"1 of 2 users signed out", "could not confirm: Graph shows", "1 could not be confirmed"},
			[]string{"every client is signed out"}},
		{"only guests", []store.Target{guest}, []string{"0 of 0 users signed out", "1 guest can only be signed out by their home tenant"},
			[]string{"every client is signed out"}},
		{"users and a guest", []store.Target{target("lester", store.TargetTokensExpired, ""), guest},
			[]string{"every client is signed out", "1 guest can only be signed out by their home tenant"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			card := plainText(a.render(context.Background(), done, tt.targets))
			thread := ""
			for _, m := range threadNotice(done, revocation.NoticeTokensExpired, nil, tt.targets) {
				thread += plainText(m)
			}
			for _, w := range tt.want {
				if !strings.Contains(card, w) {
					t.Errorf("card lacks %q:\n%s", w, card)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(card, w) || strings.Contains(thread, w) {
					t.Errorf("card or thread says %q:\n%s\n%s", w, card, thread)
				}
			}
			if strings.Contains(thread, "every client is signed out") != strings.Contains(card, "every client is signed out") {
				t.Errorf("card and thread disagree:\n%s\n%s", card, thread)
			}
		})
	}
}

// A request in which nothing was revoked says "failed" with Graph's reason and the permission to grant.
func TestFailedRequestCard(t *testing.T) {
	a := &App{Log: slog.New(slog.DiscardHandler)}
	req := store.Request{ID: "R2", Status: store.StatusFailed, Requester: store.Actor{Platform: "slack", ID: "UA", Name: "alice"},
		Failure: "Graph accepted no revocation: forbidden: Authorization_RequestDenied Insufficient privileges (2). To fix: grant the app the Microsoft Graph application permission User.RevokeSessions.All (with admin consent)"}
	card := plainText(a.render(context.Background(), req, []store.Target{target("lester", store.TargetFailed, "forbidden"), target("testy", store.TargetFailed, "forbidden")}))
	for _, w := range []string{"failed: nobody was signed out", "Authorization_RequestDenied", "User.RevokeSessions.All"} {
		if !strings.Contains(card, w) {
			t.Errorf("card lacks %q:\n%s", w, card)
		}
	}
	if strings.Contains(card, "signed out.") && strings.Contains(card, "every client") {
		t.Errorf("a failed request claims success:\n%s", card)
	}
}

// The deadline announcement states the lifetime assumed and why, and mentions Continuous Access Evaluation
// where it shortens the wait.
func TestDeadlineAnnouncementStatesTheAssumption(t *testing.T) {
	req := store.Request{ID: "R3", Status: store.StatusRunning, TokensExpireAt: time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC),
		TokenLifetime: 24 * time.Hour, LifetimeSource: `policy "Long tokens" assigned to app "Legacy CRM"`}
	msg := plainText(threadNotice(req, revocation.NoticeRevoked, nil, nil)[0])
	for _, w := range []string{"lifetime 24 h", `policy "Long tokens" assigned to app "Legacy CRM"`, "Continuous Access Evaluation", "15 minutes"} {
		if !strings.Contains(msg, w) {
			t.Errorf("announcement lacks %q:\n%s", w, msg)
		}
	}
	req.TokenLifetime = 10 * time.Minute
	if msg := plainText(threadNotice(req, revocation.NoticeRevoked, nil, nil)[0]); strings.Contains(msg, "Continuous Access Evaluation") {
		t.Errorf("a 10-minute lifetime needs no CAE note:\n%s", msg)
	}
}

// Guests, external members and disabled accounts are marked in the preview; user text stays literal.
func TestPreviewMarksAndLiterals(t *testing.T) {
	a := &App{Log: slog.New(slog.DiscardHandler)}
	ext := target("ext", store.TargetPending, "")
	ext.Guest, ext.External = true, true
	dis := target("dana", store.TargetPending, "")
	dis.Disabled = true
	req := store.Request{ID: "R4", Status: store.StatusPending, Reason: "*urgent* <!channel>", ScopeKind: "group", ScopeText: "Sales_*EMEA*",
		Requester: store.Actor{Platform: "slack", ID: "UA", Name: "alice"}, RequiredApprovals: 1}
	msg := a.render(context.Background(), req, []store.Target{ext, dis})
	text := plainText(msg)
	for _, w := range []string{"external member: only their home tenant", "disabled: revoked too"} {
		if !strings.Contains(text, w) {
			t.Errorf("card lacks %q:\n%s", w, text)
		}
	}
	raw := msg.Blocks[2].Fields[0] + msg.Blocks[1].Text
	if !strings.Contains(raw, Literal("*urgent* <!channel>")) || !strings.Contains(raw, Literal("Sales_*EMEA*")) {
		t.Errorf("user text not marked literal: %q", raw)
	}
	if !strings.Contains(msg.Blocks[1].Text, Mention("slack", "UA", "alice")) {
		t.Errorf("requester not a mention: %q", msg.Blocks[1].Text)
	}
}

// Request-level news (a blocked run, the lifetime assumed, failed reads, a failed request) reaches the thread in
// the runner's words.
func TestThreadTellsRequestLevelNews(t *testing.T) {
	req := store.Request{ID: "R5", Status: store.StatusRunning}
	events := []store.Event{
		{Seq: 1, Type: revocation.EventLifetimeUnknown, Detail: "could not read the token lifetime policies (403)"},
		{Seq: 2, Type: revocation.EventBlocked, Detail: "nobody is being revoked: cannot read the protected accounts"},
		{Seq: 3, Type: revocation.EventReadFailed, Detail: "could not read 1 of 2 users back from Graph"},
		{Seq: 4, Type: revocation.EventFailed, Detail: "Graph accepted no revocation"},
	}
	posts := threadPosts(req, events, nil, 0)
	if len(posts) != 4 {
		t.Fatalf("%d posts, want 4", len(posts))
	}
	for i, p := range posts {
		if got := plainText(p.msg); !strings.Contains(strings.ToLower(got), strings.ToLower(events[i].Detail)) || p.minSeq != events[i].Seq {
			t.Errorf("post %d = %q (seq %d), want event %d's words", i, got, p.minSeq, events[i].Seq)
		}
	}
}
