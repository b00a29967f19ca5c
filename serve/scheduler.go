package serve

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/blprobe/blprobe/report"
)

// Job is one check: what the Runner is asked to do.
type Job struct {
	Kind   Kind
	Target string   // IP, CIDR, hostname or "auto"
	Zones  []string // dnsbl: zones to check; empty: the catalogue defaults
	To     []string // smtp: recipient domains whose MX to probe
	// QPS is the per-zone query rate this run may use: the scheduler gives
	// each run an equal share of the configured rate, so that the runs in
	// flight together never exceed it. 0 means unlimited.
	QPS float64
}

// Key identifies a job for the no-overlap rule and the result store; the
// order of zones and domains does not matter.
func (j Job) Key() string {
	sorted := func(l []string) string {
		c := append([]string(nil), l...)
		sort.Strings(c)
		return strings.Join(c, ",")
	}
	return fmt.Sprintf("%s|%s|%s|%s", j.Kind, strings.ToLower(j.Target), sorted(j.Zones), sorted(j.To))
}

// Runner runs one check and returns its report. An error means the check
// could not run at all (bad input, no resolver); problems found while
// checking are in the report.
type Runner interface {
	Run(ctx context.Context, job Job) (*report.Report, error)
}

// RunnerFunc adapts a function to Runner.
type RunnerFunc func(ctx context.Context, job Job) (*report.Report, error)

// Run calls f.
func (f RunnerFunc) Run(ctx context.Context, job Job) (*report.Report, error) { return f(ctx, job) }

// Clock is the time source of the scheduler; tests use a fake one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Result is the latest outcome of a job.
type Result struct {
	Job      Job
	Report   *report.Report // nil when the run failed to start (Err)
	Err      string
	Started  time.Time
	Duration time.Duration
	Runs     uint64 // completed runs of this job
	Failures uint64 // runs that returned an error
	Skipped  uint64 // starts skipped because the previous run was still going
}

// SchedulerOptions configure a Scheduler.
type SchedulerOptions struct {
	Runner        Runner
	Jobs          []Job
	Intervals     map[Kind]time.Duration
	Jitter        time.Duration // each start is delayed by a random 0..Jitter
	QPS           float64       // per zone, summed over all runs in flight
	MaxConcurrent int           // runs in flight (scheduled and on demand)
	Clock         Clock         // default: the real clock
	Rand          *rand.Rand    // default: a random seed
}

// errOverlap is returned when a run of the same job is still going.
var errOverlap = errors.New("a run of this check is still going")

// ErrBusy is returned by RunNow when no run slot became free in time.
var ErrBusy = errors.New("all run slots are busy")

// Scheduler runs jobs on their intervals and keeps their latest results.
type Scheduler struct {
	o     SchedulerOptions
	sem   chan struct{}
	randM sync.Mutex

	mu      sync.Mutex
	latest  map[string]*Result
	running map[string]bool
	skipped map[string]uint64
	order   []string // job keys of the scheduled jobs, in config order
	wg      sync.WaitGroup
}

// NewScheduler validates o and returns a scheduler; Start starts it.
func NewScheduler(o SchedulerOptions) (*Scheduler, error) {
	if o.Runner == nil {
		return nil, errors.New("serve: no runner")
	}
	if o.MaxConcurrent < 1 {
		o.MaxConcurrent = DefaultMaxConcurrent
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.Rand == nil {
		o.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	for _, j := range o.Jobs {
		if o.Intervals[j.Kind] <= 0 {
			return nil, fmt.Errorf("serve: no interval for %s jobs", j.Kind)
		}
	}
	s := &Scheduler{o: o, sem: make(chan struct{}, o.MaxConcurrent), latest: map[string]*Result{}, running: map[string]bool{}, skipped: map[string]uint64{}}
	for _, j := range o.Jobs {
		s.order = append(s.order, j.Key())
	}
	return s, nil
}

// QPSShare is the per-zone rate each run gets: the configured rate divided
// by the number of runs that may be in flight, so that their sum never
// exceeds it.
func (s *Scheduler) QPSShare() float64 {
	if s.o.QPS <= 0 {
		return 0
	}
	return s.o.QPS / float64(cap(s.sem))
}

func (s *Scheduler) jitter() time.Duration {
	if s.o.Jitter <= 0 {
		return 0
	}
	s.randM.Lock()
	defer s.randM.Unlock()
	return time.Duration(s.o.Rand.Int64N(int64(s.o.Jitter) + 1))
}

// Start runs every job in its own loop until ctx is done: the first run
// after a random delay of up to Jitter, then each run Interval plus a random
// jitter after the previous one started (never sooner). Wait waits for the
// loops to end.
func (s *Scheduler) Start(ctx context.Context) {
	for _, j := range s.o.Jobs {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.loop(ctx, j)
		}()
	}
}

// Wait blocks until every loop started by Start has returned.
func (s *Scheduler) Wait() { s.wg.Wait() }

func (s *Scheduler) loop(ctx context.Context, j Job) {
	interval := s.o.Intervals[j.Kind]
	next := s.o.Clock.Now().Add(s.jitter())
	for {
		if d := next.Sub(s.o.Clock.Now()); d > 0 {
			select {
			case <-ctx.Done():
				return
			case <-s.o.Clock.After(d):
			}
		}
		if ctx.Err() != nil {
			return
		}
		start := s.o.Clock.Now()
		// A run never outlasts its interval: the next one is due by then.
		rctx, cancel := context.WithTimeout(ctx, interval)
		_, _ = s.run(rctx, j, true) // stored with its error: /metrics and /report show it
		cancel()
		next = start.Add(interval + s.jitter())
	}
}

// run runs j once unless a run of j is going (then it counts a skip and
// returns errOverlap), waiting for a free run slot until ctx ends; store
// says whether the result becomes j's latest.
func (s *Scheduler) run(ctx context.Context, j Job, store bool) (*Result, error) {
	key := j.Key()
	s.mu.Lock()
	if s.running[key] {
		s.skipped[key]++
		s.mu.Unlock()
		return nil, errOverlap
	}
	s.running[key] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.running, key)
		s.mu.Unlock()
	}()

	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ErrBusy
	}
	defer func() { <-s.sem }()

	j.QPS = s.QPSShare()
	start := s.o.Clock.Now()
	rep, err := s.o.Runner.Run(ctx, j)
	res := &Result{Job: j, Report: rep, Started: start, Duration: s.o.Clock.Now().Sub(start)}
	if err != nil {
		res.Err = err.Error()
		res.Report = nil
	}
	if !store {
		res.Runs = 1
		if err != nil {
			res.Failures = 1
		}
		return res, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev := s.latest[key]; prev != nil {
		res.Runs, res.Failures = prev.Runs, prev.Failures
	}
	res.Runs++
	if err != nil {
		res.Failures++
	}
	s.latest[key] = res
	cp := *res
	return &cp, nil
}

// RunNow runs j once on demand (for /probe), sharing the run slots and the
// query-rate split with the scheduled runs; the result is not stored. It
// returns ErrBusy when no slot frees up before ctx ends.
func (s *Scheduler) RunNow(ctx context.Context, j Job) (*Result, error) {
	return s.run(ctx, j, false)
}

// Results returns a copy of the latest result of every job that has run, the
// scheduled jobs in config order.
func (s *Scheduler) Results() []Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Result, 0, len(s.latest))
	seen := map[string]bool{}
	for _, k := range s.order {
		if r := s.latest[k]; r != nil && !seen[k] {
			seen[k] = true
			c := *r
			c.Skipped = s.skipped[k]
			out = append(out, c)
		}
	}
	var rest []string
	for k := range s.latest {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		c := *s.latest[k]
		c.Skipped = s.skipped[k]
		out = append(out, c)
	}
	return out
}

// Pending lists the scheduled jobs that have not completed a run yet.
func (s *Scheduler) Pending() []Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Job
	for i, k := range s.order {
		if s.latest[k] == nil {
			out = append(out, s.o.Jobs[i])
		}
	}
	return out
}

// LatestOf returns the latest stored result of the scheduled job with j's key.
func (s *Scheduler) LatestOf(j Job) (Result, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.latest[j.Key()]
	if r == nil {
		return Result{}, false
	}
	c := *r
	c.Skipped = s.skipped[j.Key()]
	return c, true
}

// Latest returns the latest result of target (of kind, or the most recent
// of any kind when kind is "").
func (s *Scheduler) Latest(target string, kind Kind) (Result, bool) {
	var best Result
	found := false
	for _, r := range s.Results() {
		if !strings.EqualFold(r.Job.Target, target) || (kind != "" && r.Job.Kind != kind) {
			continue
		}
		if !found || r.Started.After(best.Started) {
			best, found = r, true
		}
	}
	return best, found
}
