package teams

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/signoutbot/signoutbot/store"
)

const testBot = "28:bot-app-id"

func channelActivity(text string, entities ...entity) *activity {
	return &activity{Type: "message", ID: "1000", ServiceURL: "https://smba.example/emea/", Text: text, Entities: entities,
		Recipient: &account{ID: testBot, Name: "signoutbot"}, From: &account{ID: "29:alice", Name: "Alice", AADObjectID: "oid-alice"},
		Conversation: &conversationAccount{ID: "19:chan@thread.tacv2;messageid=1000", ConversationType: "channel", TenantID: "tid"},
		ChannelData:  &channelData{Tenant: &idName{ID: "tid"}, Team: &idName{ID: "19:team"}, Channel: &idName{ID: "19:chan@thread.tacv2"}}}
}

func botMention() entity {
	return entity{Type: "mention", Text: "<at>signoutbot</at>", Mentioned: &account{ID: testBot, Name: "signoutbot"}}
}

func TestCommandText(t *testing.T) {
	other := entity{Type: "mention", Text: "<at>Lester Tester</at>", Mentioned: &account{ID: "29:lester", Name: "Lester Tester"}}
	for _, tc := range []struct {
		name          string
		act           *activity
		want          string
		wantAddressed bool
	}{
		{"mention and signout", channelActivity("<at>signoutbot</at> signout group Test", botMention()), "group Test", true},
		{"mention and /signout", channelActivity("<at>signoutbot</at> /signout help", botMention()), "help", true},
		{"mention only", channelActivity("<at>signoutbot</at> user lester@contoso.com", botMention()), "user lester@contoso.com", true},
		{"SIGNOUT in capitals", channelActivity("<at>signoutbot</at> SignOut status x@y.z", botMention()), "status x@y.z", true},
		{"signouts is a word of its own", channelActivity("<at>signoutbot</at> signouts", botMention()), "signouts", true},
		{"mention at the end", channelActivity("signout cancel R1 <at>signoutbot</at>", botMention()), "cancel R1", true},
		{"non-breaking spaces", channelActivity("<at>signoutbot</at>&nbsp;signout\u00a0help", botMention()), "help", true},
		{"other mentions keep their names", channelActivity("<at>signoutbot</at> signout match <at>Lester Tester</at>", botMention(), other),
			"match Lester Tester", true},
		{"not addressed in a channel", channelActivity("signout group Test"), "group Test", false},
		{"someone else mentioned", channelActivity("<at>Lester Tester</at> signout group Test", other), "Lester Tester signout group Test", false},
		{"personal chat", func() *activity {
			a := channelActivity("signout help")
			a.Conversation = &conversationAccount{ID: "a:dm", ConversationType: "personal"}
			a.ChannelData = nil
			return a
		}(), "help", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, addressed := tc.act.commandText()
			if got != tc.want || addressed != tc.wantAddressed {
				t.Errorf("commandText() = %q, %v; want %q, %v", got, addressed, tc.want, tc.wantAddressed)
			}
		})
	}
}

func TestConversationRef(t *testing.T) {
	for _, tc := range []struct {
		name      string
		act       *activity
		want      store.MessageRef
		wantExtra refExtra
	}{
		{"new post in a channel", channelActivity("x"),
			store.MessageRef{Platform: Platform, Channel: "19:chan@thread.tacv2"},
			refExtra{ServiceURL: "https://smba.example/emea/", TenantID: "tid", Type: convChannel, TeamID: "19:team", BotID: testBot, CommandThread: "1000"}},
		{"reply in a thread", func() *activity {
			a := channelActivity("x")
			a.ID = "2000"
			return a
		}(), store.MessageRef{Platform: Platform, Channel: "19:chan@thread.tacv2"},
			refExtra{ServiceURL: "https://smba.example/emea/", TenantID: "tid", Type: convChannel, TeamID: "19:team", BotID: testBot, CommandThread: "1000"}},
		{"personal chat", func() *activity {
			a := channelActivity("x")
			a.Conversation, a.ChannelData = &conversationAccount{ID: "a:dm", ConversationType: "personal", TenantID: "tid"}, nil
			return a
		}(), store.MessageRef{Platform: Platform, Channel: "a:dm"},
			refExtra{ServiceURL: "https://smba.example/emea/", TenantID: "tid", Type: convPersonal, BotID: testBot, UserID: "29:alice"}},
		{"group chat without a type", func() *activity {
			a := channelActivity("x")
			a.Conversation, a.ChannelData = &conversationAccount{ID: "19:chat@thread.v2", IsGroup: true, TenantID: "tid"}, nil
			return a
		}(), store.MessageRef{Platform: Platform, Channel: "19:chat@thread.v2"},
			refExtra{ServiceURL: "https://smba.example/emea/", TenantID: "tid", Type: convGroup, BotID: testBot}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.act.conversationRef()
			extra := decodeExtra(got.Extra)
			got.Extra = ""
			if got != tc.want || extra != tc.wantExtra {
				t.Errorf("conversationRef() = %+v %+v\nwant %+v %+v", got, extra, tc.want, tc.wantExtra)
			}
		})
	}
}

func TestProfile(t *testing.T) {
	a := channelActivity("x", entity{Type: "clientInfo", Timezone: "Europe/Berlin"})
	a.LocalTimezone = "Asia/Tokyo"
	if p := a.profile(); p.TimeZone != "Europe/Berlin" || p.Name != "Alice" {
		t.Errorf("profile = %+v", p)
	}
	a.Entities = nil
	a.From.UserPrincipalName = "alice@contoso.com"
	if p := a.profile(); p.TimeZone != "Asia/Tokyo" || p.Email != "alice@contoso.com" {
		t.Errorf("profile from localTimezone = %+v", p)
	}
	if got := a.actor(); got != (store.Actor{Platform: Platform, ID: "29:alice", Name: "Alice", Entra: "oid-alice"}) {
		t.Errorf("actor = %+v", got)
	}
}

func TestCardActions(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		invoke      bool
		want        cardAction
		ok          bool
	}{
		{"execute", `{"action":{"type":"Action.Execute","verb":"deny","data":{"requestId":" R1 ","reason":"phish"}},"trigger":"manual"}`, true,
			cardAction{Verb: "deny", RequestID: "R1", Reason: "phish"}, true},
		{"execute without verb", `{"action":{"type":"Action.Execute","data":{"requestId":"R1"}}}`, true, cardAction{}, false},
		{"execute with string data", `{"action":{"verb":"approve","data":"R1"}}`, true, cardAction{}, false},
		{"submit", `{"action":"approve","requestId":"R2"}`, false, cardAction{Verb: "approve", RequestID: "R2"}, true},
		{"submit with reason", `{"action":"deny","requestId":"R2","reason":"no"}`, false, cardAction{Verb: "deny", RequestID: "R2", Reason: "no"}, true},
		{"message value of something else", `{"foo":1}`, false, cardAction{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &activity{Value: json.RawMessage(tc.value)}
			var got cardAction
			var ok bool
			if tc.invoke {
				got, ok = a.invokeAction()
			} else {
				got, ok = a.submitAction()
			}
			if got != tc.want || ok != tc.ok {
				t.Errorf("= %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestDefaultPaceWithinTeamsLimits drives the default buckets as hard as they allow, on a simulated clock, and
// checks every window of Teams' per-conversation limits.
func TestDefaultPaceWithinTeamsLimits(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	short := rate.NewLimiter(DefaultPace.PerSecond, DefaultPace.Burst)
	hourly := rate.NewLimiter(DefaultPace.PerHour, DefaultPace.HourBurst)
	var sent []time.Time
	for now := start; now.Before(start.Add(2 * time.Hour)); now = now.Add(10 * time.Millisecond) {
		// Take a token from both buckets or from neither, as a caller waiting on both would.
		if short.TokensAt(now) >= 1 && hourly.TokensAt(now) >= 1 {
			short.AllowN(now, 1)
			hourly.AllowN(now, 1)
			sent = append(sent, now)
		}
	}
	for _, lim := range []struct {
		window time.Duration
		max    int
	}{{time.Second, 7}, {2 * time.Second, 8}, {30 * time.Second, 60}, {time.Hour, 1800}} {
		j := 0
		for i := range sent {
			for sent[i].Sub(sent[j]) >= lim.window {
				j++
			}
			if n := i - j + 1; n > lim.max {
				t.Fatalf("%d operations within %s (limit %d), ending at %s", n, lim.window, lim.max, sent[i].Sub(start))
			}
		}
	}
	if len(sent) < 3000 {
		t.Errorf("only %d operations in two hours: the pace is needlessly slow", len(sent))
	}
	g := rate.NewLimiter(DefaultPace.Global, DefaultPace.GlobalBurst)
	n := 0
	for now := start; now.Before(start.Add(time.Second)); now = now.Add(time.Millisecond) {
		if g.AllowN(now, 1) {
			n++
		}
	}
	if n > 30 {
		t.Errorf("%d operations of the app in one second; Teams allows 30", n)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		header string
		want   time.Duration
		ok     bool
	}{
		{"", 0, false},
		{"3", 3 * time.Second, true},
		{"0.5", 500 * time.Millisecond, true},
		{now.Add(10 * time.Second).Format(http.TimeFormat), 10 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"soon", 0, false},
	} {
		h := http.Header{}
		if tc.header != "" {
			h.Set("Retry-After", tc.header)
		}
		got, ok := retryAfter(h, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("retryAfter(%q) = %s, %v; want %s, %v", tc.header, got, ok, tc.want, tc.ok)
		}
	}
}

func TestServiceBase(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"https://smba.trafficmanager.net/emea/", "https://smba.trafficmanager.net/emea", true},
		{"http://127.0.0.1:9000/", "http://127.0.0.1:9000", true},
		{"http://localhost:3978", "http://localhost:3978", true},
		{"http://smba.trafficmanager.net/emea/", "", false},
		{"https://smba.example/?x=1", "", false},
		{"not a url", "", false},
		{"ftp://smba.example/", "", false},
	} {
		got, err := serviceBase(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("serviceBase(%q) = %q, %v", tc.in, got, err)
		}
	}
}

func TestTarget(t *testing.T) {
	ch := refExtra{Type: convChannel}
	if got := target(store.MessageRef{Channel: "19:c@thread.tacv2", Thread: "123"}, ch); got != "19:c@thread.tacv2;messageid=123" {
		t.Errorf("thread target = %q", got)
	}
	if got := target(store.MessageRef{Channel: "19:c@thread.tacv2"}, ch); got != "19:c@thread.tacv2" {
		t.Errorf("channel target = %q", got)
	}
	if got := target(store.MessageRef{Channel: "19:chat@thread.v2", Thread: "123"}, refExtra{Type: convGroup}); got != "19:chat@thread.v2" {
		t.Errorf("group chat target = %q", got)
	}
	if got := conversationsPath("19:c@thread.tacv2;messageid=1", "activities"); got != "/v3/conversations/19:c@thread.tacv2%3Bmessageid=1/activities" {
		t.Errorf("path = %q", got)
	}
}
