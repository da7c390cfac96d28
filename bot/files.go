package bot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/signoutbot/signoutbot/store"
)

// File is a file for a request's thread: one of its reports (ReportKind).
type File struct {
	Name    string  // e.g. "scope-R7K3Q9P.csv"
	Title   string  // what the platform shows above it
	Message Message // what the thread says with it
	// Write writes the content, read from the store when it is called: an adapter that uploads the file calls it
	// for each attempt.
	Write func(ctx context.Context, w io.Writer) error
	// URL is the bot's own download link for the same content (GET /files/{token}), which works for whoever holds
	// it, without a chat login, until Expires; "" when the bot has no public address (SIGNOUTBOT_PUBLIC_URL). An
	// adapter whose platform takes no files from bots (Teams) posts this link instead.
	URL     string
	Expires time.Time
}

// FileReplier is what an adapter that can put a file in a request's thread provides besides Messenger. It is
// optional: the thread of an adapter without it lists a large scope in messages of listChunk users, as before
// files, and gets no report file at the end (the digests and the card carry the outcome).
type FileReplier interface {
	// ReplyFile posts f in the thread under ref, with f.Message as its comment.
	ReplyFile(ctx context.Context, ref store.MessageRef, f File) (store.MessageRef, error)
}

// DefaultFileLinkTTL is how long a download link works. A day covers a cutover from request to the "access
// tokens expired" notice (a day at most under the longest token lifetime a policy can set) and an admin who
// opens the link hours later, as the thread itself is caught up for threadKeep; after that the link, which
// needs no login, should not still hand out who was signed out. `/signout audit` and `signoutbot audit export`
// remain.
const DefaultFileLinkTTL = 24 * time.Hour

// fileTimeout bounds one file reply: a 100,000-user CSV is about 15 MB, longer to upload than a message.
const fileTimeout = 5 * time.Minute

// FileLinks signs and checks the download links of report files.
type FileLinks struct {
	// Key signs the links (HMAC-SHA256): SIGNOUTBOT_FILE_KEY, else a key kept in the store, so every replica
	// sharing a database accepts the links of the others. Nil: no links.
	Key []byte
	// BaseURL is the bot's public address (SIGNOUTBOT_PUBLIC_URL), e.g. "https://signoutbot.contoso.com";
	// "" means no links are made (the download route still checks any it is given).
	BaseURL string
	TTL     time.Duration // DefaultFileLinkTTL when 0
}

// fileAudience marks the bot's download tokens, so no other token signed with the same key is taken for one.
const fileAudience = "signoutbot-files"

// fileClaims is what a download token says: which request (sub), which report, until when.
type fileClaims struct {
	Kind ReportKind `json:"kind"`
	jwt.RegisteredClaims
}

func (l FileLinks) ttl() time.Duration {
	if l.TTL > 0 {
		return l.TTL
	}
	return DefaultFileLinkTTL
}

// Token signs a download token for a request's report, valid until now+TTL.
func (l FileLinks) Token(kind ReportKind, requestID string, now time.Time) (string, time.Time, error) {
	if len(l.Key) == 0 {
		return "", time.Time{}, errors.New("file links: no signing key")
	}
	exp := now.Add(l.ttl()).Truncate(time.Second)
	c := fileClaims{Kind: kind, RegisteredClaims: jwt.RegisteredClaims{Subject: requestID, Audience: jwt.ClaimStrings{fileAudience},
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp)}}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(l.Key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("file links: sign: %w", err)
	}
	return tok, exp, nil
}

// link is the download URL of a request's report, or "" without a public address or a key.
func (l FileLinks) link(kind ReportKind, requestID string, now time.Time) (string, time.Time, error) {
	if l.BaseURL == "" || len(l.Key) == 0 {
		return "", time.Time{}, nil
	}
	tok, exp, err := l.Token(kind, requestID, now)
	if err != nil {
		return "", time.Time{}, err
	}
	return strings.TrimRight(l.BaseURL, "/") + "/files/" + tok, exp, nil
}

// errLinkExpired: the token was signed with the key, but its time is over.
var errLinkExpired = errors.New("file link expired")

// check verifies a download token: signed with the key (HS256 only), for the file audience, not expired, naming
// a report kind and a request.
func (l FileLinks) check(token string, now time.Time) (ReportKind, string, error) {
	if len(l.Key) == 0 {
		return "", "", errors.New("file links: no signing key")
	}
	var c fileClaims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return l.Key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithAudience(fileAudience),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(func() time.Time { return now }))
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		// Claims are validated after the signature, so only a genuine link gets here.
		return "", "", errLinkExpired
	case err != nil:
		return "", "", err
	case !c.Kind.valid() || c.Subject == "":
		return "", "", errors.New("file link names no report")
	}
	return c.Kind, c.Subject, nil
}

// FileHandler serves GET /files/{token}: the report the token names, as CSV streamed from the store at the
// time of download. It needs no chat login (the signed token is the permission), so it says nothing on a bad
// link: 404 for anything not signed with the key (or naming no request), 403 for a genuine link that expired.
func (a *App) FileHandler() http.Handler {
	return http.HandlerFunc(a.serveFile)
}

func (a *App) serveFile(w http.ResponseWriter, r *http.Request) {
	// The token is in the path: keep it out of the Referer of anything the browser fetches next, and out of caches.
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	kind, id, err := a.Files.check(r.PathValue("token"), a.now())
	if errors.Is(err, errLinkExpired) {
		http.Error(w, "This link has expired.", http.StatusForbidden)
		return
	}
	if err != nil {
		a.Log.Info("file download refused", "remote", r.RemoteAddr, "err", err)
		http.NotFound(w, r)
		return
	}
	ctx := r.Context()
	req, err := a.Store.GetRequest(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		a.Log.Error("file download", "request", id, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	// A large report outlasts the server's write timeout for ordinary answers.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(fileTimeout))
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, ReportName(kind, req.ID)))
	cw := &countingWriter{w: w}
	if err := writeReport(ctx, cw, a.Store, req); err != nil {
		a.Log.Error("file download", "request", id, "kind", kind, "err", err)
		if cw.n == 0 {
			w.Header().Del("Content-Disposition")
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		// Part of the file is out: break the connection, so the download fails instead of looking complete.
		panic(http.ErrAbortHandler)
	}
	a.Log.Info("file downloaded", "request", id, "kind", kind, "bytes", cw.n)
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// reportFile is the file of a request's report of kind, with msg as what the thread says about it; scope is
// the request's size. Its content is read when the adapter writes it, so a retry after a failed upload sends
// the state as it stands then.
func (a *App) reportFile(req store.Request, kind ReportKind, msg Message, scope int) *File {
	name := ReportName(kind, req.ID)
	title := fmt.Sprintf("Everyone in scope of %s (%s users)", req.ID, thousands(scope))
	if kind == ReportFinal {
		title = fmt.Sprintf("Every user's outcome of %s (%s users)", req.ID, thousands(scope))
	}
	f := &File{Name: name, Title: title, Message: msg,
		Write: func(ctx context.Context, w io.Writer) error { return writeReport(ctx, w, a.Store, req) }}
	url, exp, err := a.Files.link(kind, req.ID, a.now())
	if err != nil {
		a.Log.Error("file link", "request", req.ID, "err", err)
	}
	f.URL, f.Expires = url, exp
	return f
}

// scopeFileMessage is what the thread says with the scope file.
func scopeFileMessage(req store.Request, scope int) Message {
	return textMessage(fmt.Sprintf("📄 Everyone in scope: %s users — %s", thousands(scope), ReportName(ReportScope, req.ID)))
}

// finalFileMessage is what the thread says with the final report: the news of the end (a failed request's
// reason), then the file.
func finalFileMessage(req store.Request, news []Message, scope int) Message {
	line := fmt.Sprintf("📄 Every user's outcome: %s users — %s", thousands(scope), ReportName(ReportFinal, req.ID))
	if len(news) == 0 {
		return textMessage("🏁 Request finished. " + line)
	}
	msg := news[0]
	msg.Blocks = append(append([]Block(nil), msg.Blocks...), Block{Kind: BlockSection, Text: line})
	return msg
}
