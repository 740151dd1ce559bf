package web_test

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sluice-sql/sluice/web"
)

// browser is an HTTP client with a cookie jar, as a browser keeps the
// session cookie.
type browser struct {
	t   *testing.T
	url string
	c   *http.Client
}

func newBrowser(t *testing.T, url string) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, url: url, c: &http.Client{Jar: jar}}
}

// do sends a request with an optional bearer token and returns the status
// and body.
func (b *browser) do(method, path, token string) (int, string, *http.Response) {
	b.t.Helper()
	req, err := http.NewRequest(method, b.url+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp
}

func (b *browser) cookieHeader() http.Header {
	u, _ := url.Parse(b.url)
	h := http.Header{}
	for _, c := range b.c.Jar.Cookies(u) {
		h.Add("Cookie", c.String())
	}
	return h
}

func isLogin(page string) bool { return strings.Contains(page, `id="login"`) }

// TestNoTokenNoLogin: without a token the page and the API need nothing.
func TestNoTokenNoLogin(t *testing.T) {
	e := start(t, web.Config{})
	b := newBrowser(t, e.url)
	if code, page, _ := b.do("GET", "/", ""); code != 200 || isLogin(page) {
		t.Errorf("GET / = %d, login page %v", code, isLogin(page))
	}
	if code, _, _ := b.do("GET", "/api/v1/pipelines", ""); code != 200 {
		t.Errorf("GET /api/v1/pipelines = %d", code)
	}
	if code, _, resp := b.do("POST", "/api/v1/session", ""); code != 204 || len(resp.Cookies()) != 0 {
		t.Errorf("POST /api/v1/session = %d, cookies %v", code, resp.Cookies())
	}
	c, resp, err := websocket.DefaultDialer.Dial(wsURL(e.url)+"/api/v1/preview?sql=SELECT+1", nil)
	if err != nil {
		t.Fatalf("websocket: %v", err)
	}
	c.Close()
	if p := resp.Header.Get("Sec-WebSocket-Protocol"); p != "" {
		t.Errorf("a client that asked for no subprotocol got %q", p)
	}
}

// TestBrowserLogin walks a browser through the token: the login page
// without a session, a wrong token refused, the cookie set by a login
// opening the page, the API and a websocket, logout ending it; and the
// subprotocol for programs.
func TestBrowserLogin(t *testing.T) {
	const token = "s3cret-token"
	e := start(t, web.Config{Token: token})
	dir := t.TempDir()
	if code, _, fail := e.script("/api/v1/scripts", demoScript(dir)); code != 200 {
		t.Fatalf("apply: %d %v", code, fail)
	}
	b := newBrowser(t, e.url)

	// No session: only the login page, which holds no data.
	code, page, resp := b.do("GET", "/", "")
	if code != 200 || !isLogin(page) {
		t.Fatalf("GET / without a session = %d:\n%s", code, page)
	}
	for _, secret := range []string{"p1", "datagen", "DEDUPLICATE", "/assets/", "out.jsonl"} {
		if strings.Contains(page, secret) {
			t.Errorf("the login page shows %q", secret)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'sha256-") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("login page CSP %q", csp)
	}
	if code, _, _ := b.do("GET", "/api/v1/pipelines", ""); code != 401 {
		t.Errorf("API without a session = %d", code)
	}
	// Every API route needs the session, the catalog data as well.
	if code, _, _ := b.do("GET", "/api/v1/functions", ""); code != 401 {
		t.Errorf("functions without a session = %d", code)
	}

	// A wrong token: 401 and no cookie.
	if code, _, resp := b.do("POST", "/api/v1/session", "guess"); code != 401 || len(resp.Cookies()) != 0 {
		t.Errorf("login with a wrong token = %d, cookies %v", code, resp.Cookies())
	}
	if code, page, _ := b.do("GET", "/", ""); !isLogin(page) {
		t.Errorf("after a wrong token GET / = %d, not the login page", code)
	}

	// The right token sets the cookie.
	code, _, resp = b.do("POST", "/api/v1/session", token)
	if code != 204 || len(resp.Cookies()) != 1 {
		t.Fatalf("login = %d, cookies %v", code, resp.Cookies())
	}
	ck := resp.Cookies()[0]
	if ck.Name != "sluice_session" || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Secure || ck.MaxAge <= 0 || strings.Contains(ck.Value, token) {
		t.Errorf("cookie %+v", ck)
	}
	code, page, _ = b.do("GET", "/", "")
	if code != 200 || isLogin(page) {
		t.Errorf("GET / with the session = %d, login page %v", code, isLogin(page))
	}
	// The bundle the page names holds no data and needs no session.
	asset := regexp.MustCompile(`src="(/assets/[^"]+)"`).FindStringSubmatch(page)
	if asset == nil {
		t.Fatalf("the page names no script:\n%s", page)
	}
	if code, _, _ := newBrowser(t, e.url).do("GET", asset[1], ""); code != 200 {
		t.Errorf("GET %s without a session = %d", asset[1], code)
	}
	if code, body, _ := b.do("GET", "/api/v1/pipelines", ""); code != 200 || !strings.Contains(body, `"p1"`) {
		t.Errorf("API with the session = %d %s", code, body)
	}
	c, _, err := websocket.DefaultDialer.Dial(wsURL(e.url)+"/api/v1/preview?sql=SELECT+id+FROM+ev+LIMIT+3", b.cookieHeader())
	if err != nil {
		t.Fatalf("websocket with the session cookie: %v", err)
	}
	var m map[string]any
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := c.ReadJSON(&m); err != nil || m["type"] != "schema" {
		t.Errorf("websocket with the session: %v %v", m, err)
	}
	c.Close()

	// A session of another token is no session.
	other := start(t, web.Config{Token: "another"})
	req, _ := http.NewRequest("GET", other.url+"/api/v1/pipelines", nil)
	req.Header = b.cookieHeader()
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("the cookie of one token on a server with another: %v %v", resp.StatusCode, err)
	}

	// Logout removes the cookie: the page is the login page again.
	if code, _, resp := b.do("DELETE", "/api/v1/session", ""); code != 204 || len(resp.Cookies()) != 1 || resp.Cookies()[0].MaxAge >= 0 {
		t.Errorf("logout = %d %v", code, resp.Cookies())
	}
	if code, page, _ := b.do("GET", "/", ""); !isLogin(page) {
		t.Errorf("after logout GET / = %d, not the login page", code)
	}
	if code, _, _ := b.do("GET", "/api/v1/pipelines", ""); code != 401 {
		t.Errorf("API after logout = %d", code)
	}

	// Programs: the bearer subprotocol beside sluice.v1, answered with
	// sluice.v1 only.
	proto := func(tok string) []string {
		return []string{"sluice.v1", "sluice.bearer." + base64.RawURLEncoding.EncodeToString([]byte(tok))}
	}
	d := websocket.Dialer{Subprotocols: proto(token)}
	c, resp, err = d.Dial(wsURL(e.url)+"/api/v1/preview?sql=SELECT+id+FROM+ev+LIMIT+1", nil)
	if err != nil {
		t.Fatalf("websocket with the bearer subprotocol: %v", err)
	}
	if p := resp.Header.Get("Sec-WebSocket-Protocol"); p != "sluice.v1" || c.Subprotocol() != "sluice.v1" {
		t.Errorf("subprotocol answered %q", p)
	}
	c.Close()
	d = websocket.Dialer{Subprotocols: proto("guess")}
	if _, resp, err := d.Dial(wsURL(e.url)+"/api/v1/preview?sql=SELECT+id+FROM+ev", nil); err == nil || resp.StatusCode != 401 {
		t.Errorf("websocket with a wrong bearer subprotocol: %v", err)
	}
	// The subprotocol is for websockets only.
	req, _ = http.NewRequest("GET", e.url+"/api/v1/pipelines", nil)
	req.Header.Set("Sec-WebSocket-Protocol", proto(token)[1])
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("plain GET with the bearer subprotocol: %v %v", resp.StatusCode, err)
	}
	// The bearer header still works, and a wrong one is not rescued by a
	// cookie.
	if code := e.call("GET", "/api/v1/pipelines", "", nil, nil); code != 200 {
		t.Errorf("bearer header: %d", code)
	}
}

// TestSessionCookieSecureUnderTLS: behind TLS the cookie is Secure.
func TestSessionCookieSecureUnderTLS(t *testing.T) {
	h := web.Handler(web.Config{Server: start(t, web.Config{}).srv, Token: "t"})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "https://sluice.example/api/v1/session", nil)
	req.Header.Set("Authorization", "Bearer t")
	h.ServeHTTP(rec, req)
	cs := rec.Result().Cookies()
	if rec.Code != 204 || len(cs) != 1 || !cs[0].Secure {
		t.Errorf("login under TLS = %d %v", rec.Code, cs)
	}
}
