// Package teams is signoutbot's Microsoft Teams adapter. It speaks the Bot Framework REST protocol itself (there
// is no official Go SDK): Handler authenticates and reads the activities Teams sends to /api/messages, Messenger
// posts and edits Adaptive Cards through the Bot Connector, and cards.go renders the core's neutral messages as
// Adaptive Cards 1.5 with Universal Actions. Teams types stay in this package.
//
// Where things go in Teams:
//
//   - A request's card is a new post in the channel the command was typed in, so it starts a thread of its own;
//     progress edits the card in place and the request's news are replies in that thread (one level deep, as
//     Teams threads are), whatever thread the command itself was typed in.
//   - In a group chat or a personal chat the card is a message in that chat and news reply to it.
//   - What the core shows one person only (refusals, help, "your request was approved") goes to that person's
//     1:1 chat with the bot, which Teams opens on demand (createConversation), because Teams has no ephemeral
//     messages. A click on a card is answered on the card itself (see Handler).
package teams

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"golang.org/x/time/rate"

	"github.com/signoutbot/signoutbot/bot"
	"github.com/signoutbot/signoutbot/store"
)

// Platform is this adapter's name in actors and message references.
const Platform = "teams"

// BotFrameworkScope is the scope of the app token the Bot Connector accepts.
const BotFrameworkScope = "https://api.botframework.com/.default"

// Defaults of MessengerConfig.
const (
	DefaultTimeout    = 15 * time.Second
	DefaultMaxRetries = 4
	DefaultRetryBase  = time.Second
	DefaultMaxWait    = time.Minute
)

// maxResponse bounds what is read of a Connector answer (ids and error objects; a member record).
const maxResponse = 1 << 20

// Pace keeps the bot within Teams' per-bot, per-conversation limits ("Optimize your bot with rate limiting in
// Teams"): 7 operations a second, 8 in 2 s, 60 in 30 s and, for one person's chat, 1,800 an hour; and 30 a second
// per app and tenant. A token bucket of Burst tokens refilled at PerSecond admits at most Burst + PerSecond×T in
// any window of T seconds, so the defaults (4 + 1.8/s) stay under all three short limits; the hourly bucket
// (180 + 0.45/s) under the hourly one. Waiting here costs less than a 429: Teams' Retry-After can be long.
type Pace struct {
	PerSecond   rate.Limit
	Burst       int
	PerHour     rate.Limit // per second, averaged over the hour
	HourBurst   int
	Global      rate.Limit // every operation of the app, per second
	GlobalBurst int
}

// DefaultPace is Pace's default: within Teams' documented limits (see Pace).
var DefaultPace = Pace{PerSecond: 1.8, Burst: 4, PerHour: 0.45, HourBurst: 180, Global: 15, GlobalBurst: 15}

// MessengerConfig configures NewMessenger.
type MessengerConfig struct {
	// AppID is the bot's Microsoft App ID; its account in conversations is "28:" + AppID.
	AppID string
	// Credential gets the app token (scope BotFrameworkScope) from the bot's own tenant: a single-tenant bot's
	// app registration, with a client secret, a client certificate or a managed identity, as the caller chose.
	// azidentity caches the token. Nil only without an AppID (the anonymous mode of a local emulator), and then
	// only loopback service URLs are called.
	Credential azcore.TokenCredential
	// HTTPClient sends the Connector calls (default: a new client).
	HTTPClient *http.Client
	// Timeout bounds each attempt of each call (DefaultTimeout).
	Timeout time.Duration
	// MaxRetries bounds the retries of a call that Teams answered 429, 412 or 5xx (DefaultMaxRetries);
	// RetryBase is the first back-off when Teams sent no Retry-After (DefaultRetryBase), doubling each time;
	// MaxWait is the longest single wait, Retry-After included (DefaultMaxWait): a longer one fails the call,
	// and the core's outbox tries again later.
	MaxRetries         int
	RetryBase, MaxWait time.Duration
	// Pace defaults to DefaultPace.
	Pace *Pace
	Log  *slog.Logger
}

// Messenger implements bot.Messenger over the Bot Connector REST API. It has both Ephemeral and Private, so it
// satisfies the interface before and after the core renames the one to the other.
type Messenger struct {
	appID      string
	cred       azcore.TokenCredential
	client     *http.Client
	timeout    time.Duration
	maxRetries int
	retryBase  time.Duration
	maxWait    time.Duration
	pace       Pace
	log        *slog.Logger
	global     *rate.Limiter

	mu       sync.Mutex
	pacers   map[string]*pacer // by service URL and conversation (a channel with all its threads is one)
	personal map[string]string // service URL|tenant|user → their 1:1 conversation with the bot
	seen     map[string]seenIn // user → a conversation they were last seen in, for member look-ups
}

type pacer struct {
	short, hourly *rate.Limiter
	until         time.Time // Teams' last Retry-After for the conversation (guarded by Messenger.mu; retryafter.go)
}

type seenIn struct{ serviceURL, conversation string }

var _ bot.Messenger = (*Messenger)(nil)

// NewMessenger checks the configuration and builds the Connector client.
func NewMessenger(cfg MessengerConfig) (*Messenger, error) {
	if cfg.AppID != "" && cfg.Credential == nil {
		return nil, errors.New("teams: a credential for the bot's app registration is required")
	}
	m := &Messenger{appID: cfg.AppID, cred: cfg.Credential, client: cfg.HTTPClient, timeout: cfg.Timeout, maxRetries: cfg.MaxRetries,
		retryBase: cfg.RetryBase, maxWait: cfg.MaxWait, pace: DefaultPace, log: cfg.Log,
		pacers: map[string]*pacer{}, personal: map[string]string{}, seen: map[string]seenIn{}}
	if cfg.Pace != nil {
		m.pace = *cfg.Pace
	}
	if m.client == nil {
		m.client = &http.Client{}
	}
	if m.timeout <= 0 {
		m.timeout = DefaultTimeout
	}
	if m.maxRetries <= 0 {
		m.maxRetries = DefaultMaxRetries
	}
	if m.retryBase <= 0 {
		m.retryBase = DefaultRetryBase
	}
	if m.maxWait <= 0 {
		m.maxWait = DefaultMaxWait
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	m.global = rate.NewLimiter(m.pace.Global, max(m.pace.GlobalBurst, 1))
	return m, nil
}

// AppID is the bot's app id ("" in anonymous mode).
func (m *Messenger) AppID() string { return m.appID }

func (m *Messenger) Platform() string { return Platform }

// ConnectorError is an answer of the Bot Connector other than success.
type ConnectorError struct {
	Method, Path string
	StatusCode   int
	Code         string // e.g. "BotNotInConversationRoster", "ConversationNotFound", "Throttled"
	Message      string
}

func (e *ConnectorError) Error() string {
	s := fmt.Sprintf("teams %s %s: HTTP %d", e.Method, e.Path, e.StatusCode)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// retryable reports whether Teams asks for the call to be tried again: throttling (429), a precondition that
// failed on concurrent operations in one conversation (412), and server-side failures (5xx).
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusPreconditionFailed || status >= 500
}

// serviceBase checks a service URL before the bot's token is sent to it. Service URLs come from authenticated
// activities (the token's serviceurl claim names them) and from references the bot stored itself; still, the
// token is only ever sent over HTTPS, or to this machine (a local emulator, tests).
func serviceBase(serviceURL string) (string, error) {
	u, err := url.Parse(serviceURL)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("teams: %q is not a service URL", serviceURL)
	}
	if u.Scheme != "https" && (u.Scheme != "http" || !loopbackHost(u.Hostname())) {
		return "", fmt.Errorf("teams: refusing to call %q: service URLs must be https", serviceURL)
	}
	return strings.TrimRight(serviceURL, "/"), nil
}

func conversationsPath(conv string, rest ...string) string {
	p := "/v3/conversations"
	if conv != "" {
		p += "/" + url.PathEscape(conv)
	}
	for _, r := range rest {
		p += "/" + url.PathEscape(r)
	}
	return p
}

// pacerFor is the token buckets of one conversation; a channel's threads share the channel's.
func (m *Messenger) pacerFor(serviceURL, conv string) *pacer {
	base, _ := splitThread(conv)
	key := serviceURL + "|" + base
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.pacers[key]
	if !ok {
		p = &pacer{short: rate.NewLimiter(m.pace.PerSecond, max(m.pace.Burst, 1)),
			hourly: rate.NewLimiter(m.pace.PerHour, max(m.pace.HourBurst, 1))}
		m.pacers[key] = p
	}
	return p
}

func (m *Messenger) waitTurn(ctx context.Context, p *pacer) error {
	limiters := []*rate.Limiter{m.global}
	if p != nil {
		limiters = append(limiters, p.short, p.hourly)
	}
	for _, l := range limiters {
		if err := l.Wait(ctx); err != nil {
			return fmt.Errorf("teams: pacing within Teams' rate limits: %w", err)
		}
	}
	return m.waitHeldBack(ctx, p)
}

// call sends one Connector request: paced, with the app token, each attempt bounded by the timeout, and tried
// again on 429, 412 and 5xx after Teams' Retry-After (or a doubling back-off), at most MaxRetries times. p is the
// conversation's pacer (nil for reads, which only count against the app's global pace). A POST retried after a
// 5xx may post twice if Teams had posted before failing: the core's outbox prefers a repeated reply to a lost
// one. Network errors are not retried here; the core's outbox and card editor try again later.
func (m *Messenger) call(ctx context.Context, method, serviceURL, path string, p *pacer, body, out any) error {
	base, err := serviceBase(serviceURL)
	if err != nil {
		return err
	}
	if m.cred == nil && !isLoopbackURL(base) {
		return fmt.Errorf("teams: no credential: only a local emulator can be called without one, not %s", serviceURL)
	}
	var payload []byte
	if body != nil {
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("teams: encode %s %s: %w", method, path, err)
		}
	}
	for attempt := 0; ; attempt++ {
		if err := m.waitTurn(ctx, p); err != nil {
			return err
		}
		status, header, respBody, err := m.attempt(ctx, method, base+path, payload)
		if err != nil {
			return fmt.Errorf("teams %s %s: %w", method, path, err)
		}
		if status >= 200 && status < 300 {
			if out != nil && len(bytes.TrimSpace(respBody)) > 0 {
				if err := json.Unmarshal(respBody, out); err != nil {
					return fmt.Errorf("teams %s %s: decode answer: %w", method, path, err)
				}
			}
			return nil
		}
		cerr := connectorError(method, path, status, respBody)
		if !retryable(status) || attempt >= m.maxRetries {
			return cerr
		}
		wait, ok := retryAfter(header, time.Now())
		if !ok {
			wait = m.backoff(attempt)
		}
		if status == http.StatusTooManyRequests {
			m.holdBack(p, wait)
		}
		if wait > m.maxWait {
			return fmt.Errorf("%w (Teams asks to wait %s, longer than this call may)", cerr, wait)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return fmt.Errorf("%w (Teams asks to wait %s, past the call's deadline)", cerr, wait)
		}
		m.log.Warn("teams: connector asks to retry", "method", method, "path", path, "status", status, "wait", wait, "attempt", attempt+1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w: %w", cerr, ctx.Err())
		case <-t.C:
		}
	}
}

func loopbackHost(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

func isLoopbackURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && loopbackHost(u.Hostname())
}

func (m *Messenger) attempt(ctx context.Context, method, u string, payload []byte) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	req.Header.Set("Accept", "application/json")
	if m.cred != nil {
		tok, err := m.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{BotFrameworkScope}})
		if err != nil {
			return 0, nil, nil, fmt.Errorf("app token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+tok.Token)
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, resp.Header, b, nil
}

func connectorError(method, path string, status int, body []byte) *ConnectorError {
	e := &ConnectorError{Method: method, Path: path, StatusCode: status}
	var v struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &v) == nil {
		e.Code, e.Message = v.Error.Code, v.Error.Message
		if e.Message == "" {
			e.Message = v.Message
		}
	}
	if e.Code == "" && e.Message == "" {
		e.Message = strings.TrimSpace(string(body[:min(len(body), 200)]))
	}
	return e
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// backoff doubles from RetryBase with ±20 % jitter, so retries of several callers do not collide again.
func (m *Messenger) backoff(attempt int) time.Duration {
	d := m.retryBase << min(attempt, 10)
	jitter := 0.8 + 0.4*rand.Float64()
	return min(time.Duration(float64(d)*jitter), m.maxWait)
}

type resourceResponse struct {
	ID         string `json:"id"`
	ActivityID string `json:"activityId"`
}

func (m *Messenger) botID(x refExtra) string {
	if x.BotID != "" {
		return x.BotID
	}
	if m.appID != "" {
		return "28:" + m.appID
	}
	return ""
}

// target is the conversation id a message goes to: a channel's thread is "<channel>;messageid=<root>".
func target(conv store.MessageRef, x refExtra) string {
	if x.Type == convChannel && conv.Thread != "" {
		return conv.Channel + threadMarker + conv.Thread
	}
	return conv.Channel
}

func refFor(conv store.MessageRef) (refExtra, error) {
	x := decodeExtra(conv.Extra)
	if conv.Platform != "" && conv.Platform != Platform {
		return x, fmt.Errorf("teams: a %s reference is not a Teams conversation", conv.Platform)
	}
	if x.ServiceURL == "" || conv.Channel == "" {
		return x, errors.New("teams: the reference names no Teams conversation (service URL and conversation id)")
	}
	return x, nil
}

// shared is the part of a reference's Extra that every message in that conversation shares.
func (x refExtra) shared() refExtra {
	return refExtra{ServiceURL: x.ServiceURL, TenantID: x.TenantID, Type: x.Type, TeamID: x.TeamID, BotID: x.BotID, UserID: x.UserID}
}

// Post sends a new message. To a channel without a thread it is a new post, which starts a thread of its own.
func (m *Messenger) Post(ctx context.Context, conv store.MessageRef, msg bot.Message) (store.MessageRef, error) {
	x, err := refFor(conv)
	if err != nil {
		return store.MessageRef{}, err
	}
	act := m.messageActivity(x, msg)
	act.ReplyToID = conv.Thread
	to := target(conv, x)
	var res resourceResponse
	if err := m.call(ctx, http.MethodPost, x.ServiceURL, conversationsPath(to, "activities"), m.pacerFor(x.ServiceURL, to), act, &res); err != nil {
		return store.MessageRef{}, err
	}
	if res.ID == "" {
		return store.MessageRef{}, fmt.Errorf("teams: the Connector answered no activity id for the message to %s", to)
	}
	return store.MessageRef{Platform: Platform, Channel: conv.Channel, ID: res.ID, Thread: conv.Thread, Extra: x.shared().encode()}, nil
}

// Update edits a message in place (PUT …/activities/{id}).
func (m *Messenger) Update(ctx context.Context, ref store.MessageRef, msg bot.Message) error {
	x, err := refFor(ref)
	if err != nil {
		return err
	}
	if ref.ID == "" {
		return errors.New("teams: the reference names no message to edit")
	}
	act := m.messageActivity(x, msg)
	act.ID = ref.ID
	to := target(ref, x)
	return m.call(ctx, http.MethodPut, x.ServiceURL, conversationsPath(to, "activities", ref.ID), m.pacerFor(x.ServiceURL, to), act, nil)
}

// Reply posts in the thread under ref. In a channel that is the conversation "<channel>;messageid=<root>", the
// way Teams itself addresses a thread (every activity from inside a thread arrives with that conversation id):
// it needs nothing but the root's id, and a reply to a reply still lands in the root's thread, which is one level
// deep in Teams. In a chat, which has no threads, the reply is a message that quotes the card (replyToId).
func (m *Messenger) Reply(ctx context.Context, ref store.MessageRef, msg bot.Message) (store.MessageRef, error) {
	root := ref.Thread
	if root == "" {
		root = ref.ID
	}
	if root == "" {
		return store.MessageRef{}, errors.New("teams: the reference names no message to reply to")
	}
	return m.Post(ctx, store.MessageRef{Platform: Platform, Channel: ref.Channel, Thread: root, Extra: ref.Extra}, msg)
}

// Private shows msg to one person only, where they are: in their 1:1 chat with the bot, which Teams has no
// ephemeral messages instead of. The chat is opened once (createConversation returns the same one every time)
// and remembered.
func (m *Messenger) Private(ctx context.Context, conv store.MessageRef, userID string, msg bot.Message) error {
	x, err := refFor(conv)
	if err != nil {
		return err
	}
	if userID == "" {
		return errors.New("teams: no user to message")
	}
	personal := conv.Channel
	if x.Type != convPersonal || x.UserID != userID {
		if personal, err = m.personalConversation(ctx, x, userID); err != nil {
			return err
		}
	}
	px := refExtra{ServiceURL: x.ServiceURL, TenantID: x.TenantID, Type: convPersonal, BotID: x.BotID, UserID: userID}
	_, err = m.Post(ctx, store.MessageRef{Platform: Platform, Channel: personal, Extra: px.encode()}, msg)
	return err
}

// Ephemeral is Private under the Messenger interface's former name.
func (m *Messenger) Ephemeral(ctx context.Context, conv store.MessageRef, userID string, msg bot.Message) error {
	return m.Private(ctx, conv, userID, msg)
}

func personalKey(serviceURL, tenant, userID string) string {
	return serviceURL + "|" + tenant + "|" + userID
}

// personalConversation opens (or finds) the 1:1 chat between the bot and userID.
func (m *Messenger) personalConversation(ctx context.Context, x refExtra, userID string) (string, error) {
	key := personalKey(x.ServiceURL, x.TenantID, userID)
	m.mu.Lock()
	id, ok := m.personal[key]
	m.mu.Unlock()
	if ok {
		return id, nil
	}
	botID := m.botID(x)
	if botID == "" {
		return "", errors.New("teams: the bot's account id is unknown, so no 1:1 chat can be opened")
	}
	params := map[string]any{"isGroup": false, "bot": account{ID: botID}, "members": []account{{ID: userID}}}
	if x.TenantID != "" {
		params["tenantId"] = x.TenantID
		params["channelData"] = channelData{Tenant: &idName{ID: x.TenantID}}
	}
	var res resourceResponse
	if err := m.call(ctx, http.MethodPost, x.ServiceURL, conversationsPath(""), m.pacerFor(x.ServiceURL, "create|"+userID), params, &res); err != nil {
		return "", fmt.Errorf("open a 1:1 chat with %s: %w", userID, err)
	}
	if res.ID == "" {
		return "", fmt.Errorf("teams: the Connector opened no 1:1 chat with %s", userID)
	}
	m.mu.Lock()
	m.personal[key] = res.ID
	m.mu.Unlock()
	return res.ID, nil
}

// observe remembers where a user was seen, so Person can look them up later, and their 1:1 chat when that is
// where they wrote.
func (m *Messenger) observe(a *activity) {
	if a.From == nil || a.From.ID == "" || a.Conversation == nil || a.ServiceURL == "" {
		return
	}
	base, _ := splitThread(a.Conversation.ID)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seen[a.From.ID] = seenIn{serviceURL: a.ServiceURL, conversation: base}
	if a.conversationType() == convPersonal {
		m.personal[personalKey(a.ServiceURL, a.tenantID(), a.From.ID)] = a.Conversation.ID
	}
}

// Person looks a user up in a conversation they were seen in (GET …/members/{id}: name, e-mail, UPN). Teams
// has no member API outside a conversation, and reports no time zone there: the time zone comes with every
// activity instead (CommandEvent.Profile).
func (m *Messenger) Person(ctx context.Context, userID string) (bot.Person, error) {
	m.mu.Lock()
	in, ok := m.seen[userID]
	m.mu.Unlock()
	if !ok {
		return bot.Person{}, fmt.Errorf("teams: %s has not written to the bot since it started, so there is no conversation to look them up in", userID)
	}
	var a account
	if err := m.call(ctx, http.MethodGet, in.serviceURL, conversationsPath(in.conversation, "members", userID), nil, nil, &a); err != nil {
		return bot.Person{}, err
	}
	email := a.Email
	if email == "" {
		email = a.UserPrincipalName
	}
	return bot.Person{ID: userID, Name: a.Name, Email: email}, nil
}

// cardContentType is the attachment type of an Adaptive Card.
const cardContentType = "application/vnd.microsoft.card.adaptive"

// messageActivity wraps a rendered card in a message activity. The one-line summary goes in "summary" (what
// notifications and the activity feed show), not "text": Teams splits a message carrying both text and an
// attachment into two and then answers no id for it, and without an id the card could never be edited.
func (m *Messenger) messageActivity(x refExtra, msg bot.Message) activity {
	a := activity{Type: "message", Summary: summaryText(msg), Attachments: []attachment{{ContentType: cardContentType, Content: renderCard(msg, nil)}}}
	if id := m.botID(x); id != "" {
		a.From = &account{ID: id}
	}
	return a
}
