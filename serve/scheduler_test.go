package serve

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/blprobe/blprobe/report"
)

// fakeClock is a manual clock: After channels fire only when Advance moves
// time past them.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- f.now
		return ch
	}
	f.waiters = append(f.waiters, fakeWaiter{f.now.Add(d), ch})
	return ch
}

// Advance moves time forward by d, firing the timers that are due.
func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	kept := f.waiters[:0]
	for _, w := range f.waiters {
		if !w.at.After(f.now) {
			w.ch <- f.now
		} else {
			kept = append(kept, w)
		}
	}
	f.waiters = kept
}

// waitWaiters waits until n goroutines wait on the clock.
func (f *fakeClock) waitWaiters(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		f.mu.Lock()
		got := len(f.waiters)
		f.mu.Unlock()
		if got >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("timed out waiting for %d clock waiters", n)
}

// fakeRunner records every run; when block is set, runs wait for release.
type fakeRunner struct {
	clock   *fakeClock
	block   bool
	release chan struct{}

	mu       sync.Mutex
	starts   map[string][]time.Time
	qps      []float64
	inFlight int
	maxIn    int
	started  chan Job
}

func newFakeRunner(c *fakeClock, block bool) *fakeRunner {
	return &fakeRunner{clock: c, block: block, release: make(chan struct{}), starts: map[string][]time.Time{}, started: make(chan Job, 100)}
}

func (r *fakeRunner) Run(ctx context.Context, j Job) (*report.Report, error) {
	r.mu.Lock()
	r.starts[j.Key()] = append(r.starts[j.Key()], r.clock.Now())
	r.qps = append(r.qps, j.QPS)
	r.inFlight++
	if r.inFlight > r.maxIn {
		r.maxIn = r.inFlight
	}
	r.mu.Unlock()
	r.started <- j
	if r.block {
		select {
		case <-r.release:
		case <-ctx.Done():
		}
	}
	r.mu.Lock()
	r.inFlight--
	r.mu.Unlock()
	rep := &report.Report{Verdict: report.VerdictClean}
	if j.Target == "fail" {
		return nil, errors.New("cannot run")
	}
	return rep, nil
}

func (r *fakeRunner) startsOf(j Job) []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.starts[j.Key()]...)
}

var testIntervals = map[Kind]time.Duration{KindDNSBL: 15 * time.Minute, KindSMTP: time.Hour}

func TestSchedulerIntervals(t *testing.T) {
	for _, jitter := range []time.Duration{0, 2 * time.Minute} {
		clock := newFakeClock()
		runner := newFakeRunner(clock, false)
		jobs := []Job{{Kind: KindDNSBL, Target: "192.0.2.1"}, {Kind: KindSMTP, Target: "192.0.2.1", To: []string{"example.com"}}}
		s, err := NewScheduler(SchedulerOptions{Runner: runner, Jobs: jobs, Intervals: testIntervals, Jitter: jitter,
			Clock: clock, Rand: rand.New(rand.NewPCG(1, 2)), MaxConcurrent: 2})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		s.Start(ctx)
		total := 3 * time.Hour
		for step := time.Duration(0); step <= total; step += 30 * time.Second {
			clock.waitWaiters(t, len(jobs))
			clock.Advance(30 * time.Second)
		}
		clock.waitWaiters(t, len(jobs))
		cancel()
		s.Wait()
		for _, j := range jobs {
			starts := runner.startsOf(j)
			iv := testIntervals[j.Kind]
			// At least as many runs as fit with the worst jitter, at most as fit without any.
			minRuns, maxRuns := int(total/(iv+jitter)), int(total/iv)+1
			if len(starts) < minRuns || len(starts) > maxRuns {
				t.Errorf("jitter %s: %s ran %d times in %s, want %d..%d", jitter, j.Kind, len(starts), total, minRuns, maxRuns)
			}
			if starts[0].Sub(newFakeClock().now) > jitter+30*time.Second {
				t.Errorf("jitter %s: first %s run only after %s", jitter, j.Kind, starts[0].Sub(newFakeClock().now))
			}
			for i := 1; i < len(starts); i++ {
				gap := starts[i].Sub(starts[i-1])
				if gap < iv {
					t.Errorf("jitter %s: %s ran again after %s, more often than its interval %s", jitter, j.Kind, gap, iv)
				}
				// The fake clock moves in 30s steps, so a start can be late by one step.
				if gap > iv+jitter+30*time.Second {
					t.Errorf("jitter %s: %s waited %s, more than interval + jitter", jitter, j.Kind, gap)
				}
			}
		}
		if got := len(s.Results()); got != 2 {
			t.Errorf("%d results, want 2", got)
		}
	}
}

func TestSchedulerNoOverlap(t *testing.T) {
	clock := newFakeClock()
	runner := newFakeRunner(clock, true)
	job := Job{Kind: KindDNSBL, Target: "192.0.2.1"}
	s, err := NewScheduler(SchedulerOptions{Runner: runner, Jobs: []Job{job}, Intervals: testIntervals, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.Start(ctx)
	<-runner.started
	// Hours pass while the run hangs: no second run starts.
	for i := 0; i < 10; i++ {
		clock.Advance(time.Hour)
	}
	// An on-demand run of the same check is refused as an overlap and counted.
	if _, err := s.RunNow(ctx, job); !errors.Is(err, errOverlap) {
		t.Errorf("RunNow during a run: %v, want errOverlap", err)
	}
	if got := len(runner.startsOf(job)); got != 1 {
		t.Fatalf("%d starts while the first run hung, want 1", got)
	}
	if len(s.Pending()) != 1 {
		t.Errorf("pending %v, want the job", s.Pending())
	}
	close(runner.release)
	clock.waitWaiters(t, 1)
	// The overdue run starts once, right after the hung one ended.
	res := s.Results()
	if len(res) != 1 || res[0].Runs != 2 || res[0].Skipped != 1 {
		t.Errorf("results %+v, want 2 runs and 1 skip", res)
	}
	if st := runner.startsOf(job); len(st) != 2 || st[1].Sub(st[0]) != 10*time.Hour {
		t.Errorf("starts %v", st)
	}
	if len(s.Pending()) != 0 {
		t.Errorf("pending after the run: %v", s.Pending())
	}
	cancel()
	s.Wait()
}

func TestSchedulerLimits(t *testing.T) {
	clock := newFakeClock()
	runner := newFakeRunner(clock, true)
	var jobs []Job
	for _, tgt := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"} {
		jobs = append(jobs, Job{Kind: KindDNSBL, Target: tgt})
	}
	s, err := NewScheduler(SchedulerOptions{Runner: runner, Jobs: jobs, Intervals: testIntervals, Clock: clock, MaxConcurrent: 2, QPS: 10})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.Start(ctx)
	// Two runs start; the others wait for a slot.
	<-runner.started
	<-runner.started
	select {
	case j := <-runner.started:
		t.Fatalf("a third run (%s) started with 2 slots", j.Target)
	case <-time.After(100 * time.Millisecond):
	}
	// An on-demand run waits for a slot too, and gives up with ErrBusy.
	octx, ocancel := context.WithTimeout(ctx, 50*time.Millisecond)
	if _, err := s.RunNow(octx, Job{Kind: KindDNSBL, Target: "192.0.2.9"}); !errors.Is(err, ErrBusy) {
		t.Errorf("RunNow with every slot busy: %v, want ErrBusy", err)
	}
	ocancel()
	close(runner.release)
	for i := 0; i < 3; i++ {
		<-runner.started
	}
	clock.waitWaiters(t, len(jobs))
	cancel()
	s.Wait()
	runner.mu.Lock()
	defer runner.mu.Unlock()
	if runner.maxIn != 2 {
		t.Errorf("at most %d runs in flight, want 2", runner.maxIn)
	}
	for _, q := range runner.qps {
		// Two runs in flight at 5 qps per zone each: never more than 10 in all.
		if q != 5 {
			t.Errorf("run got %v qps per zone, want 10/2", q)
		}
	}
}

func TestSchedulerFailure(t *testing.T) {
	clock := newFakeClock()
	runner := newFakeRunner(clock, false)
	s, _ := NewScheduler(SchedulerOptions{Runner: runner, Jobs: []Job{{Kind: KindDNSBL, Target: "fail"}}, Intervals: testIntervals, Clock: clock})
	ctx, cancel := context.WithCancel(context.Background())
	s.Start(ctx)
	clock.waitWaiters(t, 1)
	cancel()
	s.Wait()
	r, ok := s.Latest("fail", "")
	if !ok || r.Report != nil || r.Err != "cannot run" || r.Failures != 1 {
		t.Errorf("latest %+v", r)
	}
	if _, err := NewScheduler(SchedulerOptions{Runner: runner, Jobs: []Job{{Kind: "x"}}, Intervals: testIntervals}); err == nil {
		t.Error("a job without an interval was accepted")
	}
}
