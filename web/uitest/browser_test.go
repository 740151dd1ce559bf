package uitest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// chromium finds Debian's Chromium. Without it the browser tests skip,
// except in CI, where .ci/run installs it and its absence is a failure.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed: the browser tests need it in CI (.ci/run installs it with apt-get)")
	}
	t.Skip("chromium is not installed (apt-get install chromium): skipping the browser tests")
	return ""
}

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// sluiceBinary builds cmd/sluice once per test run.
func sluiceBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sluice-uitest-bin")
		if err != nil {
			buildErr = err
			return
		}
		binDir, binPath = dir, filepath.Join(dir, "sluice")
		out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/sluice").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type dev struct {
	url  string
	data string
}

// startDev runs `sluice dev` on free ports with a data directory of its
// own. No ClickHouse answers on the URL it is given, so the demo writes
// its file sink.
func startDev(t *testing.T, env ...string) *dev {
	t.Helper()
	data := t.TempDir()
	u := startSluice(t, env, `Sluice is running: open (\S+)`, "dev", "--listen", "127.0.0.1:0", "--kafka-port", "0",
		"--data-dir", data, "--clickhouse", "clickhouse://127.0.0.1:1/default")
	return &dev{url: u, data: data}
}

// startSluice runs the sluice binary with args and env, stops it with
// SIGINT when the test ends, and returns the first submatch of ready in
// its standard output: the URL it serves.
func startSluice(t *testing.T, env []string, ready string, args ...string) string {
	t.Helper()
	cmd := exec.Command(sluiceBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
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
		re := regexp.MustCompile(ready)
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
	case <-time.After(60 * time.Second):
		t.Fatalf("sluice %s did not start:\n%s", args[0], stderr.String())
	}
	return ""
}

// get decodes a GET of the API.
func (d *dev) get(t *testing.T, path string, out any) int {
	t.Helper()
	resp, err := http.Get(d.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// browser is one Chromium tab on the editor.
type browser struct {
	t     *testing.T
	ctx   context.Context
	shots string
	n     int
}

func newBrowser(t *testing.T, url string, dark bool) *browser {
	t.Helper()
	b := openBrowser(t)
	scheme := "light"
	if dark {
		scheme = "dark"
	}
	b.do(colorScheme(scheme), chromedp.Navigate(url))
	b.wait(`document.querySelector('.cm-content') && window.sluice && window.sluice.view`, 20*time.Second)
	return b
}

// openBrowser starts Chromium with a blank tab.
func openBrowser(t *testing.T) *browser {
	t.Helper()
	exe := chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("font-render-hinting", "none"),
		chromedp.WindowSize(1280, 800),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelA() })
	shots := os.Getenv("SLUICE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", shots)
	b := &browser{t: t, ctx: ctx, shots: shots}
	// The first run starts the browser, and must not carry a timeout: its
	// end would end the browser.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	b.do(chromedp.EmulateViewport(1280, 800))
	return b
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 40*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.shot("failed")
		b.t.Fatalf("browser: %v", err)
	}
}

// eval evaluates JS (awaiting a promise) and decodes its value into out.
func (b *browser) eval(js string, out any) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.shot("failed")
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			b.t.Fatalf("evaluate %s: %s: %v", js, raw, err)
		}
	}
}

// wait polls a JS expression until it is truthy.
func (b *browser) wait(js string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		// While the page navigates, evaluating fails: that is "not yet".
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!(`+js+`)`))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.shot("timeout")
			b.t.Fatalf("waited %s for %s (last error: %v)", timeout, js, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// shot saves a screenshot of the page as NN-name.png.
func (b *browser) shot(name string) {
	b.n++
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(b.shots, fmt.Sprintf("%02d-%s.png", b.n, name))
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Log(err)
	}
}

// insert types text as text input into the focused editor.
func (b *browser) insert(text string) {
	b.t.Helper()
	b.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, input.InsertText, input.InsertTextParams{Text: text})
		return err
	}))
}

// key presses keys (see chromedp.KeyEvent), with Ctrl when ctrl is set.
func (b *browser) key(keys string, ctrl bool) {
	b.t.Helper()
	var opts []chromedp.KeyOption
	if ctrl {
		opts = append(opts, chromedp.KeyModifiers(chromedp.ModifierCtrl))
	}
	b.do(chromedp.KeyEvent(keys, opts...))
}

// typeLines types a script line by line, the way a person enters it:
// each line as text input, closing any completion before the next line.
func (b *browser) typeLines(script string) {
	b.t.Helper()
	lines := strings.SplitAfter(script, "\n")
	for _, l := range lines {
		if l == "" {
			continue
		}
		b.insert(l)
	}
	b.key(kb.Escape, false)
}

func (b *browser) newTab() {
	b.t.Helper()
	b.do(chromedp.Click(chromedp.CSS(".newtab")))
	b.wait(`sluice.view.state.doc.length === 0 && sluice.view.hasFocus`, 5*time.Second)
}

// doc is the editor's text.
func (b *browser) doc() string {
	var s string
	b.eval(`sluice.view.state.doc.toString()`, &s)
	return s
}

// cursorAt puts the cursor just after the n-th (0-based) match of s.
func (b *browser) cursorAfter(s string) {
	b.t.Helper()
	var ok bool
	b.eval(fmt.Sprintf(`(() => { const v = sluice.view; const i = v.state.doc.toString().indexOf(%q); if (i < 0) return false;
		v.dispatch({selection: {anchor: i + %d}}); v.focus(); return true; })()`, s, len([]rune(s))), &ok)
	if !ok {
		b.t.Fatalf("%q is not in the editor", s)
	}
}

type diag struct {
	From, To int
	Text     string
	Message  string
	Actions  []string
}

func (b *browser) diagnostics() []diag {
	var d []diag
	b.eval(`sluice.diagnostics()`, &d)
	return d
}

var (
	readmeOnce sync.Once
	readmeSQL  string
)

func readme(t *testing.T) string {
	readmeOnce.Do(func() {
		b, err := os.ReadFile("../../examples/orders.sql")
		if err != nil {
			t.Fatal(err)
		}
		readmeSQL = string(b)
	})
	return readmeSQL
}

// hover moves the mouse over the centre of the first element matching sel.
func (b *browser) hover(sel string) {
	b.t.Helper()
	var box struct{ X, Y float64 }
	b.eval(fmt.Sprintf(`(() => { const r = document.querySelector(%q).getBoundingClientRect(); return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()`, sel), &box)
	b.do(chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, box.X-20, box.Y), chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, box.X, box.Y))
}

// completions lists the open completion's options: label → detail.
func (b *browser) completions() map[string]string {
	b.t.Helper()
	b.wait(`document.querySelector('.cm-tooltip-autocomplete li')`, 5*time.Second)
	var opts []struct{ Label, Detail string }
	b.eval(`[...document.querySelectorAll('.cm-tooltip-autocomplete li')].map(li => ({
		label: li.querySelector('.cm-completionLabel').textContent,
		detail: (li.querySelector('.cm-completionDetail') || {}).textContent || ''}))`, &opts)
	m := map[string]string{}
	for _, o := range opts {
		m[o.Label] = o.Detail
	}
	return m
}

// post sends a script to the API and fails unless it applies.
func (d *dev) post(t *testing.T, path, script string) {
	t.Helper()
	resp, err := http.Post(d.url+path, "application/sql", strings.NewReader(script))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST %s: %d %s", path, resp.StatusCode, body)
	}
}

// colorScheme emulates the system's light or dark setting.
func colorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	})
}
