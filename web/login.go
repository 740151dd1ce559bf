package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// Browsers and the token. With a token set, a browser logs in once: the
// login page sends the token as a bearer header to POST /api/v1/session,
// whose answer sets the session cookie. The cookie's value is an HMAC of
// the token, so the server keeps no sessions and a changed token ends
// them all. Every /api call and websocket accepts the bearer header or
// the cookie; a websocket from a program may instead carry the token as
// the subprotocol sluice.bearer.<base64url(token)> beside sluice.v1.

//go:embed login.html
var loginHTML []byte

const (
	sessionCookie = "sluice_session"
	// sessionMaxAge is how long a browser keeps the session cookie.
	sessionMaxAge = 30 * 24 * time.Hour
	// wsProtocol is the subprotocol the server speaks on its websockets;
	// bearerProtocol prefixes a token offered as a subprotocol.
	wsProtocol     = "sluice.v1"
	bearerProtocol = "sluice.bearer."
)

// loginCSP lets the login page run its own inline script and style and
// nothing else: their hashes are taken from the page itself.
var loginCSP = func() string {
	hash := func(tag string) string {
		m := regexp.MustCompile(`(?s)<` + tag + `>(.*?)</` + tag + `>`).FindSubmatch(loginHTML)
		if m == nil {
			panic("login.html has no " + tag)
		}
		sum := sha256.Sum256(m[1])
		return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	return "default-src 'none'; script-src " + hash("script") + "; style-src " + hash("style") +
		"; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
}()

// sessionValue is the session cookie's value for token.
func sessionValue(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("sluice session v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// authorized reports whether r carries the token: as a bearer header, as
// the session cookie, or, on a websocket upgrade, as the bearer
// subprotocol. Without a token everything is authorized.
func (h *handler) authorized(r *http.Request) bool {
	token := h.cfg.Token
	if token == "" {
		return true
	}
	if got := r.Header.Get("Authorization"); got != "" {
		return subtle.ConstantTimeCompare([]byte(got), []byte("Bearer "+token)) == 1
	}
	if c, err := r.Cookie(sessionCookie); err == nil && hmac.Equal([]byte(c.Value), []byte(h.session)) {
		return true
	}
	if websocket.IsWebSocketUpgrade(r) {
		for _, p := range websocket.Subprotocols(r) {
			if enc, ok := strings.CutPrefix(p, bearerProtocol); ok {
				got, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(enc, "="))
				if err == nil && subtle.ConstantTimeCompare(got, []byte(token)) == 1 {
					return true
				}
			}
		}
	}
	return false
}

// login is POST /api/v1/session (behind auth): it sets the session
// cookie. Without a token there is nothing to set.
func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Token != "" {
		http.SetCookie(w, &http.Cookie{
			Name: sessionCookie, Value: h.session, Path: "/", MaxAge: int(sessionMaxAge / time.Second),
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
		})
	}
	w.WriteHeader(http.StatusNoContent)
}

// logout is DELETE /api/v1/session: it removes the cookie from the
// browser. It needs no token: anyone may log themselves out.
func (h *handler) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	w.WriteHeader(http.StatusNoContent)
}

// pageGate serves a page only with the token; without it, the login page,
// which holds no data.
func (h *handler) pageGate(page http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if h.authorized(r) {
			page(w, r)
			return
		}
		hd := w.Header()
		hd.Set("Content-Type", "text/html; charset=utf-8")
		hd.Set("Cache-Control", "no-store")
		hd.Set("Content-Security-Policy", loginCSP)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		w.Write(loginHTML)
	}
}
