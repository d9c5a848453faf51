package collector

import corev1 "k8s.io/api/core/v1"

// Selects reports whether sels collect the container name of pod (init tells
// an init container), as a Manager with these selections decides. It fails
// when a selection is invalid.
func Selects(sels []Selection, pod *corev1.Pod, name string, init bool) (bool, error) {
	compiled, err := compileSelections(sels)
	if err != nil {
		return false, err
	}
	return selects(compiled, pod, name, init), nil
}

// HasCluster reports whether a cluster ID is being collected.
func (m *Manager) HasCluster(id string) bool {
	_, err := m.cluster(id)
	return err == nil
}
