package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mirrorsink/mirrorsink/engine"
)

// web holds the status page's templates and style sheet: server-rendered HTML, no JavaScript.
//
//go:embed web/*.html web/style.css
var web embed.FS

// lateAfter is the lag from which the status page marks a tenant late.
const lateAfter = time.Hour

// statusPage serves the operator's status page: every tenant on one page, and a page per tenant.
type statusPage struct {
	eng  *engine.Engine
	log  *slog.Logger
	tmpl *template.Template
	css  []byte
	host string
	now  func() time.Time
	// perTenant bounds reading one tenant's summary for the overview.
	perTenant time.Duration
}

func newStatusPage(eng *engine.Engine, log *slog.Logger) (*statusPage, error) {
	funcs := template.FuncMap{
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "–"
			}
			return t.UTC().Format("2006-01-02 15:04:05")
		},
		"dur":  humanDuration,
		"late": func(s engine.TenantSummary) bool { return s.LastCycle != nil && s.Lag >= lateAfter },
	}
	tmpl, err := template.New("").Funcs(funcs).ParseFS(web, "web/*.html")
	if err != nil {
		return nil, fmt.Errorf("status page templates: %w", err)
	}
	css, err := web.ReadFile("web/style.css")
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	return &statusPage{eng: eng, log: log, tmpl: tmpl, css: css, host: host, now: time.Now, perTenant: 5 * time.Second}, nil
}

// page is what every page's layout needs.
type page struct {
	Title, Base, Version, Host, LateAfter string
	Refresh                               int
	Now                                   time.Time
}

func (p *statusPage) page(title, base string, refresh int) page {
	return page{Title: title, Base: base, Version: version, Host: p.host, LateAfter: humanDuration(lateAfter),
		Refresh: refresh, Now: p.now().UTC()}
}

// register serves the pages under base (e.g. "/status") on mux, each behind guard.
func (p *statusPage) register(mux *http.ServeMux, base string, guard func(http.Handler) http.Handler) {
	mux.Handle("GET "+base, guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.overview(w, r, base) })))
	mux.Handle("GET "+base+"/tenant/{tenant}", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.tenant(w, r, base, r.PathValue("tenant"))
	})))
	mux.Handle("GET "+base+"/style.css", guard(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "max-age=300")
		w.Write(p.css)
	})))
}

type overviewPage struct {
	page
	Tenants                  []engine.TenantSummary
	Healthy, Paused, Failing int
	// NotMirrored counts the tenants without a mirror (named in the configuration, never replicated).
	NotMirrored int
}

func (p *statusPage) overview(w http.ResponseWriter, r *http.Request, base string) {
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	data := overviewPage{page: p.page("All tenants", base, 60), Tenants: p.eng.Overview(ctx, p.perTenant)}
	for _, s := range data.Tenants {
		switch {
		case s.Unavailable != "":
			data.Failing++
		case s.NoMirror != "":
			data.NotMirrored++
		case s.Paused != nil:
			data.Paused++
		case s.LastError != nil && (s.LastCycle == nil || s.LastError.At.After(s.LastCycle.Completed)):
			data.Failing++ // failed since its last successful cycle
		default:
			data.Healthy++
		}
	}
	p.render(w, "overview.html", data)
}

type tenantPage struct {
	page
	Status engine.TenantStatus
	Err    string
}

func (p *statusPage) tenant(w http.ResponseWriter, r *http.Request, base, name string) {
	// Only tenants the overview lists: Status creates no mirror for any other name, but a page per
	// name guessed would still put a connection to the database behind every request.
	if !slices.Contains(p.eng.KnownTenants(), name) {
		http.Error(w, "tenant "+strconv.Quote(name)+" is not named in the configuration and has not called this replica since it started", http.StatusNotFound)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 60*time.Second)
	defer cancel()
	data := tenantPage{page: p.page(name, base, 0)}
	st, err := p.eng.Status(ctx, name)
	switch {
	case errors.Is(err, engine.ErrNoMirror):
		data.Err = "Nothing is mirrored yet: " + err.Error() + ". The tenant's first cycle creates its mirror."
	case err != nil:
		p.log.Warn("status page: reading a tenant's mirror", "tenant", name, "err", err)
		data.Err = "The tenant's mirror cannot be read now: " + err.Error()
	}
	data.Status = st
	p.render(w, "tenant.html", data)
}

func (p *statusPage) render(w http.ResponseWriter, name string, data any) {
	var b strings.Builder
	if err := p.tmpl.ExecuteTemplate(&b, name, data); err != nil {
		p.log.Error("status page: rendering", "page", name, "err", err)
		http.Error(w, "the page could not be rendered (see the service log)", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.Write([]byte(b.String()))
}

// humanDuration is a duration for people: the two largest units.
func humanDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return twoUnits(int(d.Hours()), "h", int(d.Minutes())%60, "min")
	}
	return twoUnits(int(d.Hours())/24, "days", int(d.Hours())%24, "h")
}

// twoUnits writes "3 h 5 min", or "3 h" when the smaller unit is 0.
func twoUnits(big int, bigUnit string, small int, smallUnit string) string {
	if small == 0 {
		return fmt.Sprintf("%d %s", big, bigUnit)
	}
	return fmt.Sprintf("%d %s %d %s", big, bigUnit, small, smallUnit)
}

// requireToken lets a request through when it carries token as a bearer token, or as the password of
// HTTP Basic authentication (any user name), which a browser asks for; an empty token lets every
// request through. The comparison takes the same time whatever the guess.
func requireToken(token string) func(http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return func(next http.Handler) http.Handler {
		if token == "" {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got := ""
			if auth := r.Header.Get("Authorization"); strings.HasPrefix(auth, "Bearer ") {
				got = strings.TrimPrefix(auth, "Bearer ")
			} else if _, pw, ok := r.BasicAuth(); ok {
				got = pw
			}
			sum := sha256.Sum256([]byte(got))
			if got == "" || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
				w.Header().Set("WWW-Authenticate", `Basic realm="mirrorsink status", charset="UTF-8"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
