package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed assets
var assets embed.FS

// csp allows nothing but this origin's own files and API: no inline
// script or style, no frames, no form posts, so data the API returns
// cannot run as code even if a page escaped it wrongly.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

type asset struct {
	body  []byte
	ctype string
	etag  string
}

// Handler serves the dashboard: GET / is the page, GET /ui/<file> its
// files. Anything else goes to notFound, so unknown paths keep the API's
// JSON 404; a file asked with a method other than GET or HEAD goes there
// with the Allow header set, for a 405.
func Handler(notFound http.Handler) http.Handler {
	files := map[string]asset{}
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assets.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ctype := mime.TypeByExtension(path.Ext(p))
		if path.Ext(p) == ".js" {
			ctype = "text/javascript; charset=utf-8" // the OS's table may lack it
		}
		files[strings.TrimPrefix(p, "assets/")] = asset{body: body, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		panic("dashboard: embedded assets unreadable: " + err.Error()) // a broken build, not a runtime state
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := ""
		switch {
		case r.URL.Path == "/":
			name = "index.html"
		case strings.HasPrefix(r.URL.Path, "/ui/"):
			name = strings.TrimPrefix(r.URL.Path, "/ui/")
		}
		f, ok := files[name]
		if ok && name != "" && r.Method != http.MethodGet && r.Method != http.MethodHead {
			// A file asked with another method: notFound answers 405 with
			// the Allow set here.
			w.Header().Set("Allow", "GET, HEAD")
		}
		if !ok || name == "" || r.Method != http.MethodGet && r.Method != http.MethodHead {
			notFound.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		// Revalidated each time (cheap, by ETag), so an upgraded hookd never
		// runs with an old script.
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", f.etag)
		h.Set("Content-Type", f.ctype)
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.body))
	})
}
