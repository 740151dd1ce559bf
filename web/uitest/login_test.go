package uitest

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// startServer runs `sluice server` with an embedded catalog and the given
// API token, on a free port.
func startServer(t *testing.T, token string) string {
	t.Helper()
	return startSluice(t, []string{"SLUICE_API_TOKEN=" + token}, `listening on (\S+)`,
		"server", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir())
}

// TestLogin: with a token the server shows its login page first; after
// logging in, the session cookie carries auth for the editor's calls and
// its preview websocket; when the session ends, the page returns to the
// login.
func TestLogin(t *testing.T) {
	chromium(t)
	const token = "s3cret-token"
	url := startServer(t, token)
	b := openBrowser(t)
	b.do(chromedp.Navigate(url))
	b.wait(`document.querySelector('#token')`, 10*time.Second)
	var editor bool
	b.eval(`!!document.querySelector('.cm-content')`, &editor)
	if editor {
		t.Fatal("the editor shows without the token")
	}
	// A wrong token is refused on the page.
	b.do(chromedp.SendKeys(chromedp.CSS("#token"), "nope"), chromedp.Click(chromedp.CSS("#submit")))
	b.wait(`document.querySelector('#error').textContent.length > 0`, 5*time.Second)
	b.shot("login-refused")
	b.eval(`document.querySelector('#token').value = ''`, nil)
	b.do(chromedp.SendKeys(chromedp.CSS("#token"), token), chromedp.Click(chromedp.CSS("#submit")))
	b.wait(`document.querySelector('.cm-content') && window.sluice && sluice.view && sluice.store.auth`, 10*time.Second)

	// fetch: apply a script.
	b.newTab()
	b.typeLines("CREATE SOURCE ticks (n UInt64, at DateTime64(3)) WITH (connector = 'datagen', rows_per_second = '200');\n\nSELECT n, at FROM ticks;\n")
	b.key("s", true)
	b.wait(`document.querySelector('.results .result[data-action=created]')`, 10*time.Second)
	// websocket: preview the SELECT.
	b.cursorAfter("SELECT n")
	b.key("\r", true)
	b.wait(`Number((document.querySelector('.pbar .count') || {dataset: {}}).dataset.total) > 0`, 10*time.Second)
	b.shot("logged-in")
	b.do(chromedp.Click(chromedp.CSS(".pbar .stop")))

	// The session ends elsewhere (another tab logs out): the next call is
	// refused and the page goes back to the login; the scripts stay.
	b.eval(`fetch('/api/v1/session', {method: 'DELETE'}).then(r => r.status)`, nil)
	b.key("s", true)
	b.wait(`document.querySelector('#token')`, 10*time.Second)
	b.do(chromedp.SendKeys(chromedp.CSS("#token"), token), chromedp.Click(chromedp.CSS("#submit")))
	b.wait(`window.sluice && sluice.view && sluice.view.state.doc.toString().includes('CREATE SOURCE ticks')`, 10*time.Second)

	// Log out from the page.
	b.do(chromedp.Click(chromedp.CSS("header .logout")))
	b.wait(`document.querySelector('#token')`, 10*time.Second)
}
