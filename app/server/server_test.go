package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/modelgate/modelgate/app"
	"github.com/modelgate/modelgate/app/server"
	"github.com/modelgate/modelgate/internal/githubtest"
	"github.com/modelgate/modelgate/internal/queue"
	"github.com/modelgate/modelgate/internal/sqlstore"
	"github.com/modelgate/modelgate/internal/sqlstoretest"
	"github.com/modelgate/modelgate/internal/upload"
)

// intake is a webhook server on loopback, storing into a real database.
type intake struct {
	url string
	db  *sqlstore.DB
	srv *server.Server
}

func startIntake(t testing.TB, dsn, secret string) *intake {
	t.Helper()
	db, err := sqlstore.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	reg := prometheus.NewRegistry()
	srv, err := server.New(server.Config{Secret: []byte(secret), Queue: db, Ready: db.Ping,
		Metrics: app.NewMetrics(reg, db.QueueStats), Gatherer: reg, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { srv.Run(ctx) })
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); cancel(); wg.Wait() })
	return &intake{url: hs.URL, db: db, srv: srv}
}

func post(t testing.TB, url string, body []byte, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/webhooks", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (in *intake) stats(t testing.TB) queue.Stats {
	t.Helper()
	s, err := in.db.QueueStats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestWebhookIntake(t *testing.T) {
	gh := githubtest.New(t)
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		in := startIntake(t, dsn, gh.WebhookSecret())
		body, header := gh.Webhook("pull_request", "opened", nil)

		if code, resp := post(t, in.url, body, header); code != http.StatusAccepted || !strings.Contains(resp, `"queued"`) {
			t.Fatalf("first delivery: %d %s; want 202 queued", code, resp)
		}
		if code, resp := post(t, in.url, body, header); code != http.StatusOK || !strings.Contains(resp, `"duplicate"`) {
			t.Fatalf("redelivery: %d %s; want 200 duplicate", code, resp)
		}
		if s := in.stats(t); s.Pending != 1 {
			t.Fatalf("queued %+v; want exactly one pending job", s)
		}

		tampered := bytes.Replace(body, []byte(`"opened"`), []byte(`"closed"`), 1)
		noSig := header.Clone()
		noSig.Del("X-Hub-Signature-256")
		sha1Only := noSig.Clone()
		sha1Only.Set("X-Hub-Signature-256", header.Get("X-Hub-Signature"))
		otherSecret := githubtest.New(t)
		otherSecret.SetWebhookSecret("not the App's secret")
		wrongKey := otherSecret.NewDelivery("pull_request", body)
		notJSON := gh.NewDelivery("pull_request", []byte("not json"))
		noDelivery := gh.NewDelivery("pull_request", body)
		noDelivery.Header.Del("X-GitHub-Delivery")
		ownEvent := gh.NewDelivery(app.EventEvaluate, []byte(`{"installation":1,"repository":"a/b","pull_request":1}`))
		// Truncations of the right signature: a check that compares only as
		// many bytes as the header carries would take every one of them.
		sig := header.Get("X-Hub-Signature-256")
		truncated := func(hexDigits int) http.Header {
			h := header.Clone()
			h.Set("X-Hub-Signature-256", sig[:len("sha256=")+hexDigits])
			return h
		}
		cases := []struct {
			name   string
			body   []byte
			header http.Header
			want   int
		}{
			{"tampered body", tampered, header, http.StatusUnauthorized},
			{"no signature", body, noSig, http.StatusUnauthorized},
			{"SHA-1 signature only", body, sha1Only, http.StatusUnauthorized},
			{"empty signature", body, truncated(0), http.StatusUnauthorized},
			{"one-byte signature", body, truncated(2), http.StatusUnauthorized},
			{"half the signature", body, truncated(32), http.StatusUnauthorized},
			{"all but the last byte", body, truncated(62), http.StatusUnauthorized},
			{"signed with another secret", wrongKey.Body, wrongKey.Header, http.StatusUnauthorized},
			{"signed, not JSON", notJSON.Body, notJSON.Header, http.StatusBadRequest},
			{"no delivery id", noDelivery.Body, noDelivery.Header, http.StatusBadRequest},
			{"the App's own job kind", ownEvent.Body, ownEvent.Header, http.StatusBadRequest},
		}
		for _, c := range cases {
			if code, resp := post(t, in.url, c.body, c.header); code != c.want {
				t.Errorf("%s: %d %s; want %d", c.name, code, resp, c.want)
			}
		}
		if s := in.stats(t); s.Pending != 1 {
			t.Fatalf("after rejected deliveries the queue holds %+v; want the one job", s)
		}
	})
}

func TestWebhookIgnoredAndSplit(t *testing.T) {
	gh := githubtest.New(t)
	in := startIntake(t, t.TempDir()+"/q.db", gh.WebhookSecret())

	body, header := gh.Webhook("pull_request", "closed", nil)
	if code, resp := post(t, in.url, body, header); code != http.StatusOK || !strings.Contains(resp, `"ignored"`) {
		t.Fatalf("closed: %d %s; want 200 ignored", code, resp)
	}
	if s := in.stats(t); s.Pending != 0 {
		t.Fatalf("an ignored event was queued: %+v", s)
	}

	// A check suite of a commit that two pull requests share: one job each,
	// so each runs under its own pull request's key.
	body, header = gh.Webhook("check_suite", "rerequested", func(p map[string]any) {
		suite := p["check_suite"].(map[string]any)
		prs := suite["pull_requests"].([]any)
		if len(prs) == 0 {
			t.Fatal("the example check suite names no pull request")
		}
		first := prs[0].(map[string]any)
		second := map[string]any{}
		for k, v := range first {
			second[k] = v
		}
		second["number"] = 4242.0
		suite["pull_requests"] = []any{first, second}
	})
	if code, resp := post(t, in.url, body, header); code != http.StatusAccepted {
		t.Fatalf("check suite: %d %s", code, resp)
	}
	if s := in.stats(t); s.Pending != 2 {
		t.Fatalf("a check suite of two pull requests queued %+v; want two jobs", s)
	}
	var keys []string
	for {
		job, ok, err := in.db.Claim(t.Context(), "test", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		keys = append(keys, job.Key)
		task, err := app.ParseEvent(job.Event, job.Payload)
		if err != nil || len(task.PullRequests) != 1 {
			t.Errorf("job %s does not parse to one pull request: %+v %v", job.Delivery, task, err)
		}
	}
	if len(keys) != 2 || keys[0] == keys[1] || !slices.ContainsFunc(keys, func(k string) bool { return strings.HasSuffix(k, "#4242") }) {
		t.Errorf("job keys %v; want one per pull request", keys)
	}
}

func TestWebhookLimitsAndHealth(t *testing.T) {
	if _, err := server.New(server.Config{Queue: nil, Log: slog.New(slog.DiscardHandler)}); err == nil {
		t.Error("New accepted an empty webhook secret")
	}
	gh := githubtest.New(t)
	in := startIntake(t, t.TempDir()+"/q.db", gh.WebhookSecret())

	huge := gh.NewDelivery("pull_request", bytes.Repeat([]byte(" "), server.MaxBody+1))
	if code, _ := post(t, in.url, huge.Body, huge.Header); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized payload: %d; want 413", code)
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(in.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d", code)
	}
	if code, _ := get("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz: %d", code)
	}
	if code, body := get("/metrics"); code != http.StatusOK ||
		!strings.Contains(body, `modelgate_webhook_deliveries_total{event="pull_request",result="rejected"} 1`) ||
		!strings.Contains(body, `modelgate_queue_jobs{state="pending"} 0`) {
		t.Errorf("/metrics: %d\n%s", code, body)
	}
	in.srv.Drain()
	if code, _ := get("/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz while draining: %d; want 503", code)
	}
}

// writeLock holds the queue's table against writers, as a long transaction
// of another replica would, until released.
type writeLock struct {
	postgres bool
	db       *sql.DB
	tx       *sql.Tx
}

func holdWrites(t *testing.T, dsn string) *writeLock {
	t.Helper()
	w := &writeLock{postgres: strings.HasPrefix(dsn, "postgres://")}
	driver, source := "sqlite", dsn+"?_txlock=immediate"
	if w.postgres {
		driver, source = "pgx", dsn
	}
	db, err := sql.Open(driver, source)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	w.db = db
	if w.tx, err = db.BeginTx(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if w.postgres {
		w.exec(t, `LOCK TABLE queue_jobs IN EXCLUSIVE MODE`)
	}
	return w
}

func (w *writeLock) exec(t *testing.T, query string) {
	t.Helper()
	if _, err := w.tx.ExecContext(t.Context(), query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// waitForWriter returns once a writer waits for the lock. Only PostgreSQL
// shows its waiters; on SQLite it returns at once.
func (w *writeLock) waitForWriter(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); w.postgres; time.Sleep(10 * time.Millisecond) {
		var waiting bool
		err := w.db.QueryRowContext(t.Context(), `SELECT EXISTS (SELECT 1 FROM pg_locks
			WHERE relation = 'queue_jobs'::regclass AND NOT granted)`).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no delivery waits to be stored")
		}
	}
}

// refuse makes every insert into the queue fail once the lock is released,
// as a full disk or a broken connection would.
func (w *writeLock) refuse(t *testing.T) {
	t.Helper()
	if w.postgres {
		w.exec(t, `ALTER TABLE queue_jobs ADD CONSTRAINT refuse CHECK (false) NOT VALID`)
		return
	}
	w.exec(t, `CREATE TRIGGER refuse BEFORE INSERT ON queue_jobs BEGIN SELECT RAISE(ABORT, 'refused'); END`)
}

func (w *writeLock) release(t *testing.T) {
	t.Helper()
	if err := w.tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestWebhookGroupCommit holds the queue's writes while deliveries arrive,
// so that they wait for the group commit together: none is acknowledged
// before it is stored, copies of one delivery are queued once, and when the
// commit fails every delivery of it fails, none acknowledged.
func TestWebhookGroupCommit(t *testing.T) {
	gh := githubtest.New(t)
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		in := startIntake(t, dsn, gh.WebhookSecret())
		body, header := gh.Webhook("pull_request", "opened", nil)
		deliver := func(id string) <-chan int {
			h := header.Clone()
			h.Set("X-GitHub-Delivery", id)
			status := make(chan int, 1)
			go func() {
				req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, in.url+"/webhooks", bytes.NewReader(body))
				if err != nil {
					status <- 0
					return
				}
				req.Header = h
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Errorf("deliver %s: %v", id, err)
					status <- 0
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				status <- resp.StatusCode
			}()
			return status
		}
		answers := func(ids []string, sent []<-chan int) map[string][]int {
			got := map[string][]int{}
			for i, c := range sent {
				got[ids[i]] = append(got[ids[i]], <-c)
			}
			return got
		}
		queued := func() []string {
			var ds []string
			for _, j := range sqlstoretest.Jobs(t, dsn, "") {
				ds = append(ds, j.Delivery)
			}
			slices.Sort(ds)
			return ds
		}

		w := holdWrites(t, dsn)
		ids := []string{"first"}
		sent := []<-chan int{deliver("first")}
		w.waitForWriter(t)
		for _, id := range []string{"copied", "a", "copied", "b", "copied"} {
			ids, sent = append(ids, id), append(sent, deliver(id))
		}
		// Give the deliveries time to reach the server: none may be
		// answered while it cannot store them.
		time.Sleep(200 * time.Millisecond)
		for i, c := range sent {
			select {
			case code := <-c:
				t.Fatalf("delivery %s answered %d before it could be stored", ids[i], code)
			default:
			}
		}
		w.release(t)
		got := answers(ids, sent)
		for _, id := range []string{"first", "a", "b"} {
			if !slices.Equal(got[id], []int{http.StatusAccepted}) {
				t.Errorf("delivery %s answered %v, want 202", id, got[id])
			}
		}
		if c := slices.Sorted(slices.Values(got["copied"])); !slices.Equal(c, []int{http.StatusOK, http.StatusOK, http.StatusAccepted}) {
			t.Errorf("three copies of a delivery answered %v, want one 202 and two 200 (duplicate)", got["copied"])
		}
		if q, want := queued(), []string{"a", "b", "copied", "first"}; !slices.Equal(q, want) {
			t.Fatalf("queue holds %v, want %v", q, want)
		}

		w = holdWrites(t, dsn)
		ids = []string{"lost"}
		sent = []<-chan int{deliver("lost")}
		w.waitForWriter(t)
		for _, id := range []string{"c", "d", "e"} {
			ids, sent = append(ids, id), append(sent, deliver(id))
		}
		time.Sleep(200 * time.Millisecond)
		w.refuse(t)
		w.release(t)
		for id, codes := range answers(ids, sent) {
			if !slices.Equal(codes, []int{http.StatusServiceUnavailable}) {
				t.Errorf("delivery %s answered %v when it could not be stored, want 503", id, codes)
			}
		}
		if q, want := queued(), []string{"a", "b", "copied", "first"}; !slices.Equal(q, want) {
			t.Errorf("after a failed commit the queue holds %v, want %v", q, want)
		}
	})
}

// BenchmarkIntake posts signed copies of GitHub's example pull_request
// payload, each under its own delivery id, from 16 concurrent clients over
// loopback, and reports acknowledgements per second and the 99th percentile
// acknowledgement time. Every acknowledged delivery must be in the queue.
func BenchmarkIntake(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			dsn := b.TempDir() + "/q.db"
			if backend == "postgres" {
				dsn = sqlstoretest.PostgresDSN(b)
			}
			gh := githubtest.New(b)
			in := startIntake(b, dsn, gh.WebhookSecret())
			body, header := gh.Webhook("pull_request", "opened", nil)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
			var (
				mu      sync.Mutex
				lat     []time.Duration
				seq     atomic.Int64
				acked   atomic.Int64
				failure atomic.Value
			)
			b.SetParallelism(8) // 8 × GOMAXPROCS (2) = 16 concurrent clients
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				var mine []time.Duration
				for pb.Next() {
					h := header.Clone()
					h.Set("X-GitHub-Delivery", fmt.Sprintf("bench-%d", seq.Add(1)))
					req, _ := http.NewRequest(http.MethodPost, in.url+"/webhooks", bytes.NewReader(body))
					req.Header = h
					t0 := time.Now()
					resp, err := client.Do(req)
					if err != nil {
						failure.Store(err.Error())
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					mine = append(mine, time.Since(t0))
					if resp.StatusCode != http.StatusAccepted {
						failure.Store(fmt.Sprintf("status %d", resp.StatusCode))
						return
					}
					acked.Add(1)
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
			elapsed := time.Since(start)
			b.StopTimer()
			if f := failure.Load(); f != nil {
				b.Fatal(f)
			}
			s, err := in.db.QueueStats(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			if int64(s.Pending) != acked.Load() {
				b.Fatalf("acknowledged %d deliveries, %d in the queue", acked.Load(), s.Pending)
			}
			slices.Sort(lat)
			b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "acks/s")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		})
	}
}

// A server without an uploader takes no uploads, and says why.
func TestUploadsDisabledWithoutAnAudience(t *testing.T) {
	in := startIntake(t, t.TempDir()+"/modelgate.db", "s3cret")
	resp, err := http.Post(in.url+upload.Path, "application/json", strings.NewReader(`{"manifest":"m","evidence":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e upload.ErrorBody
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || resp.StatusCode != http.StatusNotFound || e.Error.Code != upload.CodeUploadsDisabled {
		t.Errorf("%d %+v (%v); want 404 %s", resp.StatusCode, e, err, upload.CodeUploadsDisabled)
	}
}
