package dashboard_test

import (
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/internal/hookdtest"
)

func get(t *testing.T, method, url string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// hookd serves the dashboard at / and its files under /ui/, without a key
// and with a strict CSP; every other path keeps the API's JSON 404.
func TestDashboardServed(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NoRouter: true, NoWorker: true})

	resp, page := get(t, http.MethodGet, h.URL+"/", nil)
	csp := resp.Header.Get("Content-Security-Policy")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(page, `src="/ui/app.js"`) {
		t.Fatalf("GET /: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), page)
	}
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-") {
		t.Errorf("CSP %q allows unsafe sources", csp)
	}

	// Every file the page and its modules refer to is served, with its type.
	refs := regexp.MustCompile(`(?:src|href)="(/ui/[^"]+)"|from '\./([^']+)'`)
	seen := map[string]bool{}
	queue := []string{"/"}
	for len(queue) > 0 {
		path := queue[0]
		queue = queue[1:]
		resp, body := get(t, http.MethodGet, h.URL+path, nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Security-Policy") == "" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: %d, CSP %q", path, resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
		}
		if strings.HasSuffix(path, ".js") && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
			t.Errorf("GET %s: Content-Type %q, want text/javascript (modules need it)", path, resp.Header.Get("Content-Type"))
		}
		for _, m := range refs.FindAllStringSubmatch(body, -1) {
			ref := m[1]
			if ref == "" {
				ref = "/ui/" + m[2]
			}
			if !seen[ref] {
				seen[ref] = true
				queue = append(queue, ref)
			}
		}
	}
	if !seen["/ui/tail.js"] || !seen["/ui/style.css"] {
		t.Errorf("walked %v: the module graph is not what the page loads", seen)
	}

	// Unchanged files cost a 304.
	resp, _ = get(t, http.MethodGet, h.URL+"/ui/app.js", nil)
	if r, _ := get(t, http.MethodGet, h.URL+"/ui/app.js", map[string]string{"If-None-Match": resp.Header.Get("ETag")}); r.StatusCode != http.StatusNotModified {
		t.Errorf("conditional GET: %d, want 304", r.StatusCode)
	}

	for _, c := range []struct{ method, path string }{
		{"GET", "/ui/missing.js"}, {"GET", "/ui/"}, {"GET", "/nope"}, {"POST", "/nope"}, {"GET", "/v1/nope"},
	} {
		resp, body := get(t, c.method, h.URL+c.path, map[string]string{"Authorization": "Bearer " + hookdtest.AdminKey})
		if resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || !strings.Contains(body, `"not_found"`) {
			t.Errorf("%s %s: %d %s %s, want the JSON 404", c.method, c.path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
	// The page and its files with another method: the JSON 405, with Allow.
	for _, path := range []string{"/", "/ui/app.js"} {
		resp, body := get(t, http.MethodPost, h.URL+path, nil)
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" || !strings.Contains(body, `"method_not_allowed"`) {
			t.Errorf("POST %s: %d, Allow %q, %s; want the JSON 405 with Allow: GET, HEAD", path, resp.StatusCode, resp.Header.Get("Allow"), body)
		}
	}
}

// The assets keep to what the CSP and escaping rules need: no inline
// script, style or handler, and API data never parsed as HTML.
func TestAssetsStayInert(t *testing.T) {
	banned := []struct {
		re   *regexp.Regexp
		why  string
		only string // file extension, "" for all
	}{
		{regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write`), "parses strings as HTML", ".js"},
		{regexp.MustCompile(`\beval\(|new Function\(`), "runs strings as code", ".js"},
		{regexp.MustCompile(`<script(?:\s+type="module")?>`), "inline script (blocked by the CSP)", ".html"},
		{regexp.MustCompile(`\sstyle=|<style`), "inline style (blocked by the CSP)", ".html"},
		{regexp.MustCompile(`\son[a-z]+=`), "inline event handler (blocked by the CSP)", ".html"},
		{regexp.MustCompile(`style:|\.style\.`), "inline style (blocked by the CSP)", ".js"},
	}
	err := filepath.WalkDir("assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, rule := range banned {
			if (rule.only == "" || filepath.Ext(p) == rule.only) && rule.re.Match(b) {
				t.Errorf("%s: %q %s", p, rule.re.Find(b), rule.why)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
