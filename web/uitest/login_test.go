package uitest

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// startServer runs `sluice server` with an embedded catalog and the given
// API token, on a free port.
func startServer(t *testing.T, token string) string {
	t.Helper()
	cmd := exec.Command(sluiceBinary(t), "server", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir())
	cmd.Env = append(os.Environ(), "SLUICE_API_TOKEN="+token)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`listening on (\S+)`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case u := <-found:
		return u
	case <-time.After(30 * time.Second):
		t.Fatalf("sluice server did not start:\n%s", stderr.String())
	}
	return ""
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
