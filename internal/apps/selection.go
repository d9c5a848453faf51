package apps

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubelog/kubelog/internal/events"
	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/query"
	"github.com/kubelog/kubelog/internal/store"
)

// LogType is a type of logs.
type LogType string

// The log types.
const (
	TypeBuild        LogType = "BUILD"
	TypeDeploy       LogType = "DEPLOY"
	TypeRun          LogType = "RUN"
	TypeRunRestarted LogType = "RUN_RESTARTED"
)

// BuildForLabel marks pods that build a workload: their logs are BUILD logs
// of the workload named by its value.
const BuildForLabel = "kubelog.io/build-for"

// ErrBadType is returned, wrapped, for a missing or unknown log type.
var ErrBadType = errors.New("type must be one of BUILD, DEPLOY, RUN, RUN_RESTARTED")

// ParseType reads a log type, in any case. "" and UNSPECIFIED are errors.
func ParseType(s string) (LogType, error) {
	switch t := LogType(strings.ToUpper(s)); t {
	case TypeBuild, TypeDeploy, TypeRun, TypeRunRestarted:
		return t, nil
	}
	if s == "" {
		return "", fmt.Errorf("type is required: %w", ErrBadType)
	}
	return "", fmt.Errorf("type %q: %w", s, ErrBadType)
}

// Request names the logs asked for. Component "" is every component.
type Request struct {
	Tenant       string
	AppID        string
	DeploymentID string
	Component    string
	Type         LogType
}

// Selection is a request resolved against the cluster: which stored entries
// are its logs. Its methods may be called concurrently once built.
type Selection struct {
	Request    Request
	App        *App
	Deployment *Deployment
	cluster    string
	// podRE matches the names of the revision's pods, live or gone, when
	// their names tell the revision (ReplicaSets and Jobs); nil otherwise.
	podRE *regexp.Regexp
	// podUIDs and podNames are the revision's live pods.
	podUIDs, podNames map[string]bool
	// started counts the live pods where a container of the selection
	// started.
	started int
	// current is the current restart of each pod_uid/container.
	current map[string]int
	// containers and inits are the template's containers and init
	// containers.
	containers, inits map[string]bool
	// buildPods are the live pods labelled BuildForLabel=<app name>.
	buildPods map[string]bool
}

// Resolve resolves a request. An unknown app, deployment or component is
// ErrNotFound.
func (s *Service) Resolve(ctx context.Context, req Request) (*Selection, error) {
	a, err := s.App(ctx, req.Tenant, req.AppID)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(a.deployments, func(d *Deployment) bool { return d.ID == req.DeploymentID })
	if i < 0 {
		return nil, fmt.Errorf("deployment %q of app %s: %w", req.DeploymentID, a.Name, ErrNotFound)
	}
	d := a.deployments[i]
	sel := &Selection{Request: req, App: a, Deployment: d, cluster: a.Cluster,
		podUIDs: map[string]bool{}, podNames: map[string]bool{}, current: map[string]int{},
		containers: set(d.Components), inits: set(d.initContainers), buildPods: map[string]bool{}}
	if c := req.Component; c != "" && !sel.containers[c] && !sel.inits[c] {
		return nil, fmt.Errorf("component %q of deployment %s (components: %s): %w", c, d.ID, strings.Join(d.Components, ", "), ErrNotFound)
	}
	switch d.kind {
	case "ReplicaSet":
		sel.podRE = regexp.MustCompile("^" + regexp.QuoteMeta(d.name) + "-[a-z0-9]{1,10}$")
	case KindJob:
		sel.podRE = regexp.MustCompile("^" + regexp.QuoteMeta(d.name) + "-([0-9]+-)?[a-z0-9]{1,10}$")
	}
	pods, err := s.pods(ctx, a)
	if err != nil {
		return nil, err
	}
	for i := range pods {
		p := &pods[i]
		if p.Labels[BuildForLabel] == a.Name {
			sel.buildPods[p.Name] = true
			if req.Type == TypeBuild {
				sel.started++
			}
			continue
		}
		if !d.owns(a, p) {
			continue
		}
		sel.podUIDs[string(p.UID)] = true
		sel.podNames[p.Name] = true
		started := false
		note := func(cs []corev1.ContainerStatus, counts bool) {
			for _, c := range cs {
				sel.current[string(p.UID)+"/"+c.Name] = int(c.RestartCount)
				if counts && sel.wants(c.Name) && (c.State.Running != nil || c.State.Terminated != nil) {
					started = true
				}
			}
		}
		note(p.Status.ContainerStatuses, req.Type == TypeRun)
		note(p.Status.InitContainerStatuses, req.Type == TypeBuild)
		if started {
			sel.started++
		}
	}
	if req.Type == TypeRun || req.Type == TypeRunRestarted {
		if err := sel.storedRestarts(ctx, s.query); err != nil {
			return nil, err
		}
	}
	return sel, nil
}

func set(ss []string) map[string]bool {
	m := make(map[string]bool, len(ss))
	for _, s := range ss {
		m[s] = true
	}
	return m
}

// storedRestarts sets the current instance of the containers of pods that are
// gone: the last one stored.
func (sel *Selection) storedRestarts(ctx context.Context, st *query.Engine) error {
	var mu sync.Mutex
	q := sel.streamQuery()
	q.Predicate = func(s *store.Stream, e *store.EntryView) bool {
		return !sel.podUIDs[e.Metadata.Get(logmodel.MetaPodUID)] && sel.isRevPod(s.Labels.Get("pod"), e.Metadata.Get(logmodel.MetaPodUID))
	}
	_, err := st.Scan(ctx, q, func(_ int, s *store.Stream, e *store.EntryView) error {
		k := e.Metadata.Get(logmodel.MetaPodUID) + "/" + s.Labels.Get("container")
		r, _ := strconv.Atoi(e.Metadata.Get(logmodel.MetaRestart))
		mu.Lock()
		if cur, ok := sel.current[k]; !ok || r > cur {
			sel.current[k] = r
		}
		mu.Unlock()
		return nil
	})
	return err
}

// HasInstance reports whether an instance the logs come from exists: a live
// pod of the revision where a container of the selection started, a build
// pod, or stored lines. DEPLOY and RUN_RESTARTED logs, and superseded
// deployments, need none.
func (sel *Selection) HasInstance(ctx context.Context, st *query.Engine) (bool, error) {
	switch {
	case sel.Request.Type == TypeDeploy, sel.Request.Type == TypeRunRestarted:
		return true, nil
	case sel.started > 0:
		return true, nil
	case !sel.Deployment.next.IsZero():
		return true, nil // superseded: no instance will come; what was stored is all
	}
	q := sel.Query()
	q.Limit = 1
	res, err := st.Logs(ctx, q, false)
	if err != nil {
		return false, err
	}
	return len(res.Entries) > 0, nil
}

// streamQuery selects the streams of the selection (before the per-entry
// test).
func (sel *Selection) streamQuery() store.Query {
	q := store.Query{Tenant: sel.Request.Tenant, Matchers: []logmodel.Matcher{
		{Type: logmodel.MatchEqual, Name: "cluster", Value: sel.cluster},
		{Type: logmodel.MatchEqual, Name: "namespace", Value: sel.App.Namespace},
	}}
	if sel.Request.Type == TypeDeploy {
		q.Matchers = append(q.Matchers, logmodel.Matcher{Type: logmodel.MatchEqual, Name: "source", Value: events.Source})
		return q
	}
	var alts []string
	if sel.podRE != nil {
		alts = append(alts, strings.TrimSuffix(strings.TrimPrefix(sel.podRE.String(), "^"), "$"))
	}
	for n := range sel.podNames {
		if sel.podRE == nil || !sel.podRE.MatchString(n) {
			alts = append(alts, regexp.QuoteMeta(n))
		}
	}
	for n := range sel.buildPods {
		alts = append(alts, regexp.QuoteMeta(n))
	}
	if len(alts) == 0 {
		alts = []string{"$^"} // nothing
	}
	q.Matchers = append(q.Matchers, logmodel.Matcher{Type: logmodel.MatchRegexp, Name: "pod", Value: strings.Join(alts, "|")})
	return q
}

// Query returns the store query of the selection's entries.
func (sel *Selection) Query() store.Query {
	q := sel.streamQuery()
	q.Predicate = func(s *store.Stream, e *store.EntryView) bool {
		return sel.Match(s.Labels, e.Metadata, e.Line, e.Timestamp)
	}
	return q
}

// Matchers returns the stream matchers of the selection, for archive
// lookups: a RUN or RUN_RESTARTED component is one container's streams.
func (sel *Selection) Matchers() []logmodel.Matcher {
	ms := sel.streamQuery().Matchers
	if t := sel.Request.Type; sel.Request.Component != "" && (t == TypeRun || t == TypeRunRestarted) {
		ms = append(ms, logmodel.Matcher{Type: logmodel.MatchEqual, Name: "container", Value: sel.Request.Component})
	}
	return ms
}

// Range returns the time range of the revision: from its creation to the
// next revision's (end 0: none). DEPLOY lines of the workload itself are
// chosen by it.
func (sel *Selection) Range() (from, to int64) {
	d := sel.Deployment
	from = d.CreatedAt.Add(-time.Second).UnixNano()
	if !d.next.IsZero() {
		to = d.next.UnixNano()
	}
	return from, to
}

func (sel *Selection) isRevPod(name, uid string) bool {
	return sel.podUIDs[uid] || (sel.podRE != nil && sel.podRE.MatchString(name))
}

// Match reports whether an entry of a stream with labels, within the
// streams of Query, belongs to the selection. Live tails use it.
func (sel *Selection) Match(labels, md logmodel.Labels, line []byte, ts int64) bool {
	req := sel.Request
	if req.Type == TypeDeploy {
		if req.Component != "" {
			if c := fieldPathContainer(md.Get(events.MetaFieldPath)); c != "" && c != req.Component {
				return false
			}
		}
		kind, obj := labels.Get("kind"), labels.Get("object")
		switch {
		case kind == sel.App.Kind && obj == sel.App.Name:
			from, to := sel.Range()
			return strings.Contains(string(line), sel.Deployment.name) || (ts >= from && (to == 0 || ts < to))
		case kind == sel.Deployment.kind && obj == sel.Deployment.name:
			return true
		case kind == "Pod":
			return sel.isRevPod(obj, md.Get(events.MetaObjectUID))
		}
		return false
	}
	pod, container := labels.Get("pod"), labels.Get("container")
	if sel.buildPods[pod] {
		return req.Type == TypeBuild
	}
	uid := md.Get(logmodel.MetaPodUID)
	if !sel.isRevPod(pod, uid) {
		return false
	}
	switch req.Type {
	case TypeBuild:
		return sel.wants(container)
	case TypeRun, TypeRunRestarted:
		if !sel.wants(container) {
			return false
		}
		r, _ := strconv.Atoi(md.Get(logmodel.MetaRestart))
		cur, ok := sel.current[uid+"/"+container]
		if req.Type == TypeRun {
			return !ok || r >= cur
		}
		return ok && r < cur
	}
	return false
}

// wants reports whether the logs of a container of the revision's pods are
// of the selection's type and component: for BUILD, the init containers (the
// one asked for when the component is one); otherwise the containers (the
// component's only, when one is asked for).
func (sel *Selection) wants(container string) bool {
	comp := sel.Request.Component
	if sel.Request.Type == TypeBuild {
		return sel.inits[container] && (comp == "" || !sel.inits[comp] || container == comp)
	}
	return sel.containers[container] && (comp == "" || container == comp)
}

// fieldPathContainer returns the container of an Event's field path
// ("spec.containers{app}"), or "".
func fieldPathContainer(fp string) string {
	_, rest, ok := strings.Cut(fp, "{")
	if !ok {
		return ""
	}
	c, _, _ := strings.Cut(rest, "}")
	return c
}

// Format returns an entry as a text line: "<component> <timestamp> <message>".
func (sel *Selection) Format(labels, md logmodel.Labels, line []byte, ts int64) []byte {
	comp := labels.Get("container")
	if sel.Request.Type == TypeDeploy {
		comp = fieldPathContainer(md.Get(events.MetaFieldPath))
		if comp == "" {
			comp = sel.Request.Component
		}
		if comp == "" {
			comp = sel.App.Name
		}
	}
	b := make([]byte, 0, len(comp)+len(line)+40)
	b = append(b, comp...)
	b = append(b, ' ')
	b = time.Unix(0, ts).UTC().AppendFormat(b, "2006-01-02T15:04:05.000000000Z07:00")
	b = append(b, ' ')
	b = append(b, line...)
	return append(b, '\n')
}
