package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/modelgate/modelgate/app"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/githubtest"
	"github.com/modelgate/modelgate/internal/gittest"
	"github.com/modelgate/modelgate/internal/sqlstore"
	"github.com/modelgate/modelgate/internal/sqlstoretest"
)

// The replicas' test and benchmark run what a deployment behind a load
// balancer runs: several `modelgate serve` processes of the real binary on one
// PostgreSQL database, in front of one emulated GitHub, sent GitHub's own
// signed deliveries.

const (
	replicaAppID = 4343
	replicaRepo  = "acme/models"
	// replicaLease is the serve's --lease: long enough that a replica
	// busy on two loaded cores renews its claims (every third of it), short
	// enough that a killed replica's jobs are taken again within the test.
	replicaLease = 6 * time.Second
	// replicaSenders is how many deliveries are in flight at once.
	replicaSenders = 16
)

// binaryDir holds the binary that modelgateBinary builds, once per test
// process; TestMain removes it.
var binaryDir = sync.OnceValues(func() (string, error) { return os.MkdirTemp("", "modelgate-bin-") })

var modelgateBinary = sync.OnceValues(func() (string, error) {
	dir, err := binaryDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "modelgate")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
})

func TestMain(m *testing.M) {
	code := m.Run()
	if dir, err := binaryDir(); err == nil {
		_ = os.RemoveAll(dir)
	}
	os.Exit(code)
}

// cluster is the replicas, the database they share and the emulated GitHub
// holding the pull requests they judge.
type cluster struct {
	t        testing.TB
	bin      string
	gh       *githubtest.Server
	dsn      string
	env      []string
	dir      string
	prs      []int
	heads    map[int]string // pull request number → head SHA
	branches map[int]string // pull request number → head branch
	replicas []*replica
}

// replica is one `modelgate serve` process, and the address it keeps
// across restarts.
type replica struct {
	name, addr string
	cmd        *exec.Cmd
	exited     chan struct{}
	log        string // the file its stderr goes to
}

// newCluster opens prs promotion pull requests on the emulator, each from a
// branch of its own (so each has a head of its own), and starts n replicas
// on a fresh PostgreSQL database.
func newCluster(t testing.TB, n, prs int) *cluster {
	t.Helper()
	dsn := sqlstoretest.PostgresDSN(t)
	// The build, linked on a loaded machine, takes as long as the rest of
	// the set-up: they go side by side.
	built := make(chan error, 1)
	go func() {
		_, err := modelgateBinary()
		built <- err
	}()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	gh := githubtest.New(t)
	gh.AddApp(replicaAppID, "modelgate", &key.PublicKey)
	inst := gh.AddInstallation(replicaAppID, "acme")

	now := time.Now()
	r := gittest.New(t)
	r.CopyDir("../../examples/gitops")
	r.Commit("example repository", now.Add(-96*time.Hour))
	gh.AddRepo(inst, replicaRepo, r.Dir)
	c := &cluster{t: t, gh: gh, dsn: dsn, dir: t.TempDir(), heads: map[int]string{}, branches: map[int]string{}}
	// Each pull request's head is a commit of its own with the same tree:
	// the one promotion, proposed a hundred times.
	r.Branch("promote")
	r.CopyDir("../../examples/promotions/fraud-detector-2.3.0-production")
	r.Commit("promote fraud-detector 2.3.0 to production", now.Add(-time.Hour))
	r.Checkout("main")
	tree := r.Git("rev-parse", "promote^{tree}")
	for i := 1; i <= prs; i++ {
		branch := "promote-" + strconv.Itoa(i)
		r.Git("branch", branch, r.Git("commit-tree", tree, "-p", "main", "-m", "promote fraud-detector 2.3.0 to production, take "+strconv.Itoa(i)))
		gh.Push(replicaRepo, branch, "alice")
		n := gh.OpenPullRequest(replicaRepo, githubtest.PullRequestOptions{Head: branch, Author: "alice",
			Title: "Promote fraud-detector 2.3.0 to production"})
		c.prs = append(c.prs, n)
		c.heads[n] = gh.PullRequest(replicaRepo, n).HeadSHA
		c.branches[n] = branch
	}

	keyFile := filepath.Join(c.dir, "app.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, _, err := audit.GenerateKey("modelgate.test/replicas")
	if err != nil {
		t.Fatal(err)
	}
	auditKey := filepath.Join(c.dir, "audit.key")
	if err := os.WriteFile(auditKey, []byte(signer+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + c.dir,
		"MODELGATE_APP_ID=" + strconv.Itoa(replicaAppID), "MODELGATE_PRIVATE_KEY_FILE=" + keyFile,
		"MODELGATE_WEBHOOK_SECRET=" + gh.WebhookSecret(), "MODELGATE_AUDIT_KEY_FILE=" + auditKey,
		"MODELGATE_GITHUB_URL=" + gh.URL(), "MODELGATE_DATABASE=" + dsn}

	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		_ = ln.Close()
		c.replicas = append(c.replicas, &replica{name: "replica-" + strconv.Itoa(i+1), addr: addr})
	}
	if err := <-built; err != nil {
		t.Fatal(err)
	}
	c.bin, _ = modelgateBinary()
	t.Cleanup(c.stop)
	// All at once, as a deployment rolls them out: the first ones migrate
	// the fresh database while the others wait for them.
	for _, rp := range c.replicas {
		c.start(rp)
	}
	for _, rp := range c.replicas {
		c.waitReady(rp)
	}
	return c
}

// start starts rp's process; sweeps are off, so that every judgement comes
// from a delivery the test sent.
func (c *cluster) start(rp *replica) {
	c.t.Helper()
	rp.log = filepath.Join(c.dir, fmt.Sprintf("%s-%d.log", rp.name, time.Now().UnixNano()))
	log, err := os.Create(rp.log)
	if err != nil {
		c.t.Fatal(err)
	}
	rp.cmd = exec.Command(c.bin, "serve", "--addr", rp.addr, "--workers", "2", "--lease", replicaLease.String(), "--reconcile-interval=-1s")
	rp.cmd.Env = c.env
	rp.cmd.Stderr = log
	if err := rp.cmd.Start(); err != nil {
		_ = log.Close()
		c.t.Fatalf("start %s: %v", rp.name, err)
	}
	rp.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		_ = cmd.Wait()
		_ = log.Close()
		close(exited)
	}(rp.cmd, rp.exited)
}

// waitReady waits for rp's /readyz.
func (c *cluster) waitReady(rp *replica) {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + rp.addr + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-rp.exited:
			c.t.Fatalf("%s exited before it was ready:\n%s", rp.name, logTail(rp.log))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s not ready after 60s: %v\n%s", rp.name, err, logTail(rp.log))
		}
	}
}

// kill kills rp's process as a crash would: SIGKILL, no shutdown.
func (c *cluster) kill(rp *replica) {
	c.t.Helper()
	if err := rp.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		c.t.Fatalf("kill %s: %v", rp.name, err)
	}
	<-rp.exited
}

// stop stops the replicas still running as an orchestrator does (SIGTERM),
// and kills those that do not stop in time.
func (c *cluster) stop() {
	for _, rp := range c.replicas {
		if rp.cmd == nil {
			continue
		}
		select {
		case <-rp.exited:
			continue
		default:
		}
		_ = rp.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-rp.exited:
		case <-time.After(40 * time.Second):
			_ = rp.cmd.Process.Kill()
			<-rp.exited
			c.t.Errorf("%s did not stop within 40s of SIGTERM", rp.name)
		}
	}
}

// logTail is the end of a replica's log, for a failure's message.
func logTail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// delivery is one delivery to send, of a pull request.
type delivery struct {
	*githubtest.Delivery
	pr int
}

// deliveryKinds is what each pull request is sent, in this order: what
// GitHub sends for a promotion opened and pushed to, and then reopened. The
// App judges on the pull_request deliveries; a push to a branch that is not
// the default one it only looks up in its store. A pull_request delivery
// costs a judgement, on two cores ten times what a push costs.
var deliveryKinds = []string{"opened", "push", "push", "synchronize", "push", "push", "reopened", "push", "push"}

// deliveries builds each pull request's deliveryKinds, each under a
// delivery id of its own, one pull request after the other, as GitHub sends
// them when promotions are pushed to one after the other, and then
// redelivers one of them per pull request (same id, same body, as GitHub's
// redelivery): ten per pull request. A pull request's judgements queued a
// few jobs apart are what workers on several replicas would take at once if
// nothing held them apart.
func (c *cluster) deliveries() []delivery {
	c.t.Helper()
	var out, again []delivery
	for _, n := range c.prs {
		var push *githubtest.Delivery
		for i, kind := range deliveryKinds {
			d := delivery{nil, n}
			switch {
			case kind == "push" && push != nil:
				// The same push under another delivery id: building it
				// again would only read the same commits again.
				d.Delivery = c.gh.NewDelivery("push", push.Body)
			case kind == "push":
				d.Delivery = c.gh.PushEvent(replicaRepo, c.branches[n])
				push = d.Delivery
			default:
				d.Delivery = c.gh.PullRequestEvent(replicaRepo, n, kind)
			}
			out = append(out, d)
			if i == n%len(deliveryKinds) {
				again = append(again, d)
			}
		}
	}
	return append(out, again...)
}

// ack is what sending a delivery got.
type ack struct {
	id      string
	status  int // 202 queued, 200 duplicate
	latency time.Duration
	at      time.Time // when the answer came
	// resent tells that an earlier attempt failed after the request may
	// have reached a replica (one that was killed): it may be stored even
	// though its answer was lost.
	resent bool
}

// send posts the deliveries from replicaSenders clients, the i-th to
// replica i mod n, or, while that one does not answer, to the next, as a
// load balancer does. Each is sent again only after an attempt got no
// answer. reached, when not nil, is closed once the i-th delivery has been
// taken by a sender.
func (c *cluster) send(ds []delivery, at int, reached chan<- struct{}) ([]ack, error) {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: replicaSenders}}
	defer client.CloseIdleConnections()
	acks := make([]ack, len(ds))
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, replicaSenders)
	for w := range replicaSenders {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ds) {
					return
				}
				if i == at && reached != nil {
					close(reached)
				}
				a, err := c.deliver(client, ds[i], i)
				if err != nil && errs[w] == nil {
					errs[w] = err
				}
				acks[i] = a
			}
		})
	}
	wg.Wait()
	return acks, errors.Join(errs...)
}

func (c *cluster) deliver(client *http.Client, d delivery, i int) (ack, error) {
	a := ack{id: d.ID}
	start := time.Now()
	deadline := start.Add(60 * time.Second)
	var last error
	for attempt := 0; time.Now().Before(deadline); attempt++ {
		rp := c.replicas[(i+attempt)%len(c.replicas)]
		req, err := http.NewRequest(http.MethodPost, "http://"+rp.addr+app.WebhookPath, bytes.NewReader(d.Body))
		if err != nil {
			return a, err
		}
		req.Header = d.Header.Clone()
		resp, err := client.Do(req)
		if err != nil {
			// Refused: nothing reached it. Anything else: the request
			// may have been stored before the replica died.
			a.resent = a.resent || !errors.Is(err, syscall.ECONNREFUSED)
			last = err
			if attempt%len(c.replicas) == len(c.replicas)-1 {
				time.Sleep(20 * time.Millisecond) // every replica refused: one is restarting
			}
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		a.status, a.at, a.latency = resp.StatusCode, time.Now(), time.Since(start)
		if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
			return a, fmt.Errorf("delivery %s to %s: %s: %s", d.ID, rp.name, resp.Status, body)
		}
		return a, nil
	}
	return a, fmt.Errorf("delivery %s: no replica answered within 60s: %v", d.ID, last)
}

// waitDone waits until the queue holds at least jobs jobs and none is left
// to run, and returns them.
func (c *cluster) waitDone(jobs int, within time.Duration) []sqlstoretest.Job {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		all := sqlstoretest.Jobs(c.t, c.dsn, "")
		finished := len(all) >= jobs
		for _, j := range all {
			if j.State == "pending" || j.State == "running" {
				finished = false
			}
		}
		if finished {
			return all
		}
		if time.Now().After(deadline) {
			states := map[string]int{}
			for _, j := range all {
				states[j.State]++
			}
			c.t.Fatalf("after %v: %d jobs of at least %d, by state %v", within, len(all), jobs, states)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// span is one judgement of a pull request as GitHub saw it: from the
// App's read of the pull request, which starts every evaluation, to its
// write of the pull request's comment, which ends it; end is zero for one
// that never ended.
type span struct {
	client     string
	start, end time.Time
}

// judgements reads, from the emulator's log of API calls, each pull
// request's judgements in the order they started.
func (c *cluster) judgements() map[int][]span {
	c.t.Helper()
	commentPR := map[int64]int{}
	for _, n := range c.prs {
		for _, cm := range c.gh.Comments(replicaRepo, n) {
			commentPR[cm.ID] = n
		}
	}
	calls := c.gh.Calls()
	slices.SortStableFunc(calls, func(a, b githubtest.Call) int { return a.Received.Compare(b.Received) })
	// pull request → client → its spans not ended, oldest first: two of
	// one client are two workers of one process judging at once, and
	// whichever ends, the first is taken to, which keeps the overlap.
	open := map[int]map[string][]int{}
	out := map[int][]span{}
	for _, call := range calls {
		var n int
		var start bool
		switch {
		case call.Method == http.MethodGet && call.Route == "/repos/{owner}/{repo}/pulls/{pull_number}":
			n, start = lastNumber(call.Path), true
		case call.Method == http.MethodPost && call.Route == "/repos/{owner}/{repo}/issues/{issue_number}/comments":
			n = lastNumber(strings.TrimSuffix(call.Path, "/comments"))
		case call.Method == http.MethodPatch && call.Route == "/repos/{owner}/{repo}/issues/comments/{comment_id}":
			n = commentPR[int64(lastNumber(call.Path))]
		default:
			continue
		}
		if n == 0 {
			c.t.Fatalf("%s %s: no pull request of the test", call.Method, call.Path)
		}
		if open[n] == nil {
			open[n] = map[string][]int{}
		}
		if start {
			open[n][call.Client] = append(open[n][call.Client], len(out[n]))
			out[n] = append(out[n], span{client: call.Client, start: call.Received})
			continue
		}
		spans := open[n][call.Client]
		if len(spans) == 0 {
			c.t.Fatalf("%s %s at %v: a comment on #%d by a client that was not judging it", call.Method, call.Path, call.Received, n)
		}
		out[n][spans[0]].end = call.Received
		open[n][call.Client] = spans[1:]
	}
	return out
}

func lastNumber(path string) int {
	n, _ := strconv.Atoi(path[strings.LastIndexByte(path, '/')+1:])
	return n
}

// heldBy returns the jobs running under a claim of a worker of the process
// with the given pid (workers are named host/pid/worker/start).
func heldBy(jobs []sqlstoretest.Job, pid int) map[string]bool {
	held := map[string]bool{}
	for _, j := range jobs {
		if parts := strings.Split(j.Owner, "/"); j.State == "running" && len(parts) == 4 && parts[1] == strconv.Itoa(pid) {
			held[j.Delivery] = true
		}
	}
	return held
}

// TestReplicasShareTheQueue sends 1,000 deliveries over 100 pull requests to
// three replicas, kills one in the middle and starts it again, and checks
// from the store and from what GitHub saw that every accepted delivery was
// handled exactly once, that no pull request was judged by two workers at
// once, that every head has its decisions and a check run, and that the
// audit chain is intact.
func TestReplicasShareTheQueue(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs three replicas")
	}
	const prs = 100
	began := time.Now()
	c := newCluster(t, 3, prs)
	ds := c.deliveries()
	sending := time.Now()
	if len(ds) != 1000 {
		t.Fatalf("%d deliveries", len(ds))
	}

	victim := c.replicas[1]
	reached := make(chan struct{})
	type outcome struct {
		acks []ack
		err  error
	}
	result := make(chan outcome, 1)
	go func() {
		acks, err := c.send(ds, len(ds)/3, reached)
		result <- outcome{acks, err}
	}()
	<-reached
	// Killed while it holds jobs, so that their leases must expire for
	// another replica to take them.
	pid := victim.cmd.Process.Pid
	deadline := time.Now().Add(60 * time.Second)
	for len(heldBy(sqlstoretest.Jobs(t, c.dsn, ""), pid)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s held no job within 60s", victim.name)
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.kill(victim)
	killedAt := time.Now()
	held := heldBy(sqlstoretest.Jobs(t, c.dsn, ""), pid)
	t.Logf("killed %s (pid %d) holding %d jobs", victim.name, pid, len(held))
	c.start(victim)
	c.waitReady(victim)
	r := <-result
	if r.err != nil {
		t.Fatal(r.err)
	}
	acks := r.acks
	sent := time.Now()

	accepted, redelivered := map[string]bool{}, map[string]bool{}
	resent := map[string]bool{}
	for _, a := range acks {
		switch {
		case a.status == http.StatusAccepted && accepted[a.id]:
			t.Errorf("delivery %s acknowledged as queued twice", a.id)
		case a.status == http.StatusAccepted:
			accepted[a.id] = true
		default:
			redelivered[a.id] = true
		}
		if a.resent {
			resent[a.id] = true
		}
	}
	jobs := c.waitDone(len(accepted), 150*time.Second)
	t.Logf("set up in %v, sent in %v, handled %v later", sending.Sub(began).Round(time.Millisecond), sent.Sub(sending).Round(time.Millisecond), time.Since(sent).Round(time.Millisecond))

	// Every delivery acknowledged as queued was stored once and handled;
	// nothing else was stored but deliveries the test sent, of which one a
	// killed replica stored without answering is the only kind not
	// acknowledged as queued.
	byKey := map[string]int{}
	stored := map[string]bool{}
	for _, j := range jobs {
		if j.State != "done" {
			t.Errorf("job %d (delivery %s): %s after %d attempts", j.ID, j.Delivery, j.State, j.Attempts)
		}
		if stored[j.Delivery] {
			t.Errorf("delivery %s stored twice", j.Delivery)
		}
		stored[j.Delivery] = true
		byKey[j.Key]++
		if !accepted[j.Delivery] && !(resent[j.Delivery] && redelivered[j.Delivery]) {
			t.Errorf("job %d: delivery %s stored, but never acknowledged as queued", j.ID, j.Delivery)
		}
		if j.Attempts > 1 && !held[j.Delivery] {
			t.Errorf("job %d (delivery %s) ran %d times, but the killed replica did not hold it", j.ID, j.Delivery, j.Attempts)
		}
		if held[j.Delivery] && j.Attempts < 2 {
			t.Errorf("job %d (delivery %s) held by the killed replica: %d attempts", j.ID, j.Delivery, j.Attempts)
		}
	}
	for id := range accepted {
		if !stored[id] {
			t.Errorf("delivery %s acknowledged as queued but not in the queue", id)
		}
	}
	if n := len(ds) - len(accepted); n < prs {
		t.Errorf("%d deliveries not queued, want at least the %d redeliveries", n, prs)
	}

	// No pull request judged by two workers at once: each judgement
	// ended before the next began, but one the killed replica left,
	// whose client called nothing after the kill.
	spans := c.judgements()
	lastCall := map[string]time.Time{}
	for _, call := range c.gh.Calls() {
		if call.Received.After(lastCall[call.Client]) {
			lastCall[call.Client] = call.Received
		}
	}
	decisions := map[string]int{}
	db, err := sqlstore.Open(t.Context(), c.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recs, err := db.Records(t.Context(), audit.Filter{Kind: audit.KindDecision, Repository: replicaRepo})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		decisions[r.HeadSHA]++
	}
	runs := map[string]bool{}
	for _, run := range c.gh.CheckRuns(replicaRepo) {
		if run.Name == app.CheckPolicy && run.Status == "completed" {
			runs[run.HeadSHA] = true
		}
	}
	for _, n := range c.prs {
		var ended, abandoned int
		for i, s := range spans[n] {
			if s.end.IsZero() {
				abandoned++
				if !s.start.Before(killedAt) || lastCall[s.client].After(killedAt) {
					t.Errorf("#%d: judgement %d (client %s, from %v) never ended, and not by the kill at %v", n, i, s.client, s.start, killedAt)
				}
			} else {
				ended++
			}
			if i == 0 {
				continue
			}
			prev := spans[n][i-1]
			if (prev.end.IsZero() && !s.start.After(killedAt)) || (!prev.end.IsZero() && !s.start.After(prev.end)) {
				t.Errorf("#%d: judgement %d (client %s) began at %v, while judgement %d (client %s, %v to %v) ran", n, i, s.client, s.start, i-1, prev.client, prev.start, prev.end)
			}
		}
		key := replicaRepo + "#" + strconv.Itoa(n)
		if ended != byKey[key] {
			t.Errorf("#%d: %d judgements ended for %d jobs done", n, ended, byKey[key])
		}
		// A judgement the kill cut short may have recorded its decision
		// before it died; the job's second run records another.
		head := c.heads[n]
		if d := decisions[head]; d < ended || d > ended+abandoned {
			t.Errorf("#%d: %d decisions for head %s, for %d judgements ended and %d cut short", n, d, head, ended, abandoned)
		}
		delete(decisions, head)
		if !runs[head] {
			t.Errorf("#%d: no completed %s check run for head %s", n, app.CheckPolicy, head)
		}
	}
	for head, d := range decisions {
		t.Errorf("%d decisions for %s, the head of no pull request of the test", d, head)
	}

	verify := exec.Command(c.bin, "audit", "verify", "--database", c.dsn)
	verify.Env = c.env
	if out, err := verify.CombinedOutput(); err != nil {
		t.Errorf("modelgate audit verify: %v\n%s", err, out)
	}
	t.Logf("%d deliveries, %d queued, %d jobs, %d decisions; %d jobs taken again after the kill", len(ds), len(accepted), len(jobs), len(recs), len(held))
}

// BenchmarkReplicas sends the test's 1,000 deliveries over 100 pull requests
// to 1, 2 and 3 replicas on one PostgreSQL database, none killed, and
// reports deliveries acknowledged a second (from the first sent to the last
// answered), judgements a second (from the first sent to the queue's last
// job done) and the acknowledgements' p50 and p99, which include the time to
// connect. Each iteration starts a fresh database and fresh replicas, so run
// it with -benchtime 1x.
func BenchmarkReplicas(b *testing.B) {
	for _, n := range []int{1, 2, 3} {
		b.Run("replicas="+strconv.Itoa(n), func(b *testing.B) {
			var acked, judged, p50, p99 float64
			for range b.N {
				b.StopTimer()
				c := newCluster(b, n, 100)
				ds := c.deliveries()
				b.StartTimer()
				start := time.Now()
				acks, err := c.send(ds, -1, nil)
				if err != nil {
					b.Fatal(err)
				}
				var queued int
				var last time.Time
				latencies := make([]time.Duration, len(acks))
				for i, a := range acks {
					latencies[i] = a.latency
					if a.at.After(last) {
						last = a.at
					}
					if a.status == http.StatusAccepted {
						queued++
					}
				}
				jobs := c.waitDone(queued, 10*time.Minute)
				done := time.Now()
				b.StopTimer()
				judgements := 0
				for _, j := range jobs {
					if j.Event == "pull_request" {
						judgements++
					}
				}
				slices.Sort(latencies)
				acked += float64(len(acks)) / last.Sub(start).Seconds()
				judged += float64(judgements) / done.Sub(start).Seconds()
				p50 += float64(latencies[len(latencies)/2]) / float64(time.Millisecond)
				p99 += float64(latencies[len(latencies)*99/100]) / float64(time.Millisecond)
				c.stop()
			}
			b.ReportMetric(acked/float64(b.N), "acked/s")
			b.ReportMetric(judged/float64(b.N), "judged/s")
			b.ReportMetric(p50/float64(b.N), "p50-ack-ms")
			b.ReportMetric(p99/float64(b.N), "p99-ack-ms")
		})
	}
}
