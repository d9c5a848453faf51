package clusters

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/kubelog/kubelog/internal/meta"
)

// dnsLabel is a namespace or container name.
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// CollectionInput is a collection config to create or change. On update,
// nil fields keep their value.
type CollectionInput struct {
	ClusterID        *string
	Namespace        *string
	LabelSelector    *string
	OnlyContainers   *[]string
	IgnoreContainers *[]string
	IncludeInit      *bool
	Enabled          *bool
}

// build applies in to c and validates the result.
func (in CollectionInput) build(c CollectionConfig) (CollectionConfig, error) {
	if in.ClusterID != nil {
		c.ClusterID = *in.ClusterID
	}
	if in.Namespace != nil {
		c.Namespace = *in.Namespace
	}
	if in.LabelSelector != nil {
		c.LabelSelector = *in.LabelSelector
	}
	if in.OnlyContainers != nil {
		c.OnlyContainers = *in.OnlyContainers
	}
	if in.IgnoreContainers != nil {
		c.IgnoreContainers = *in.IgnoreContainers
	}
	if in.IncludeInit != nil {
		c.IncludeInit = *in.IncludeInit
	}
	if in.Enabled != nil {
		c.Enabled = *in.Enabled
	}
	switch {
	case c.ClusterID == "":
		return c, invalid("cluster_id", "is required")
	case c.Namespace == "":
		return c, invalid("namespace", `is required ("*" for every namespace)`)
	case c.Namespace != "*" && !dnsLabel.MatchString(c.Namespace):
		return c, invalid("namespace", `%q is not a namespace name or "*"`, c.Namespace)
	}
	if err := validSelector("label_selector", c.LabelSelector); err != nil {
		return c, err
	}
	for _, f := range []struct {
		name  string
		names []string
	}{{"only_containers", c.OnlyContainers}, {"ignore_containers", c.IgnoreContainers}} {
		for i, n := range f.names {
			if !dnsLabel.MatchString(n) {
				return c, invalid(fmt.Sprintf("%s[%d]", f.name, i), "%q is not a container name", n)
			}
		}
	}
	return c, nil
}

// ListCollections returns the tenant's collection configs matching f.
func (s *Service) ListCollections(ctx context.Context, f CollectionFilter) ([]CollectionConfig, error) {
	return s.db.listCollections(ctx, f)
}

// GetCollection returns one of the tenant's collection configs.
func (s *Service) GetCollection(ctx context.Context, tenant, id string) (CollectionConfig, error) {
	return s.db.getCollection(ctx, tenant, id)
}

// clusterOf checks that the cluster is the tenant's; another tenant's is
// an invalid cluster_id, as one that does not exist.
func (s *Service) clusterOf(ctx context.Context, tenant, id string) error {
	if _, err := s.db.getCluster(ctx, tenant, id); err != nil {
		if isNotFound(err) {
			return invalid("cluster_id", "no cluster %q in this tenant", id)
		}
		return err
	}
	return nil
}

// CreateCollection saves a collection config (IncludeInit defaults to true,
// Enabled to true) and applies it.
func (s *Service) CreateCollection(ctx context.Context, tenant string, in CollectionInput) (CollectionConfig, error) {
	now := s.clock.Now().UTC()
	c, err := in.build(CollectionConfig{ID: newID(), Tenant: tenant, IncludeInit: true, Enabled: true, CreatedAt: now, UpdatedAt: now})
	if err != nil {
		return c, err
	}
	if err := s.clusterOf(ctx, tenant, c.ClusterID); err != nil {
		return c, err
	}
	if err := s.db.insertCollection(ctx, c); err != nil {
		return c, err
	}
	return c, s.apply(ctx, c.ClusterID)
}

// UpdateCollection changes a collection config and applies it.
func (s *Service) UpdateCollection(ctx context.Context, tenant, id string, in CollectionInput) (CollectionConfig, error) {
	old, err := s.db.getCollection(ctx, tenant, id)
	if err != nil {
		return old, err
	}
	c, err := in.build(old)
	if err != nil {
		return c, err
	}
	if c.ClusterID != old.ClusterID {
		if err := s.clusterOf(ctx, tenant, c.ClusterID); err != nil {
			return c, err
		}
	}
	c.UpdatedAt = s.clock.Now().UTC()
	if err := s.db.updateCollection(ctx, c); err != nil {
		return c, err
	}
	if c.ClusterID != old.ClusterID {
		if err := s.apply(ctx, old.ClusterID); err != nil {
			return c, err
		}
	}
	return c, s.apply(ctx, c.ClusterID)
}

// DeleteCollection deletes a collection config and applies the change.
func (s *Service) DeleteCollection(ctx context.Context, tenant, id string) error {
	c, err := s.db.getCollection(ctx, tenant, id)
	if err != nil {
		return err
	}
	if err := s.db.deleteCollection(ctx, tenant, id); err != nil {
		return err
	}
	return s.apply(ctx, c.ClusterID)
}

// SetEnabled enables or disables the tenant's collection configs by ID and
// returns them changed. An unknown ID fails the whole call before any
// change.
func (s *Service) SetEnabled(ctx context.Context, tenant string, ids []string, enabled bool) ([]CollectionConfig, error) {
	var cs []CollectionConfig
	for i, id := range ids {
		c, err := s.db.getCollection(ctx, tenant, id)
		if err != nil {
			if isNotFound(err) {
				return nil, invalid(fmt.Sprintf("ids[%d]", i), "no collection config %q in this tenant", id)
			}
			return nil, err
		}
		cs = append(cs, c)
	}
	return s.setEnabled(ctx, cs, enabled)
}

func (s *Service) setEnabled(ctx context.Context, cs []CollectionConfig, enabled bool) ([]CollectionConfig, error) {
	now := s.clock.Now().UTC()
	touched := map[string]bool{}
	for i := range cs {
		cs[i].Enabled, cs[i].UpdatedAt = enabled, now
		if err := s.db.updateCollection(ctx, cs[i]); err != nil {
			return nil, err
		}
		touched[cs[i].ClusterID] = true
	}
	for id := range touched {
		if err := s.apply(ctx, id); err != nil {
			return nil, err
		}
	}
	if cs == nil {
		cs = []CollectionConfig{}
	}
	return cs, nil
}

// DisableNamespace disables the cluster's collection configs of that
// namespace and returns them. Configs for "*" are left alone: when one of
// them collects the namespace and the namespace has no config of its own,
// it fails with meta.ErrConflict, saying so.
func (s *Service) DisableNamespace(ctx context.Context, tenant, clusterID, namespace string) ([]CollectionConfig, error) {
	if err := s.clusterOf(ctx, tenant, clusterID); err != nil {
		return nil, err
	}
	cs, err := s.db.listCollections(ctx, CollectionFilter{Tenant: tenant, ClusterID: clusterID, Namespace: namespace})
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		all, err := s.db.listCollections(ctx, CollectionFilter{Tenant: tenant, ClusterID: clusterID, Namespace: "*"})
		if err != nil {
			return nil, err
		}
		for _, c := range all {
			if c.Enabled {
				return nil, fmt.Errorf("namespace %q has no config of its own; it is collected by the all-namespaces config %s: disable that one, or give it a label_selector: %w",
					namespace, c.ID, meta.ErrConflict)
			}
		}
	}
	return s.setEnabled(ctx, cs, false)
}

// DisableCluster disables every collection config of a cluster and returns
// them.
func (s *Service) DisableCluster(ctx context.Context, tenant, clusterID string) ([]CollectionConfig, error) {
	if err := s.clusterOf(ctx, tenant, clusterID); err != nil {
		return nil, err
	}
	cs, err := s.db.listCollections(ctx, CollectionFilter{Tenant: tenant, ClusterID: clusterID})
	if err != nil {
		return nil, err
	}
	return s.setEnabled(ctx, cs, false)
}

func isNotFound(err error) bool { return errors.Is(err, meta.ErrNotFound) }
