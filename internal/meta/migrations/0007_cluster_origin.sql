-- Who registered a cluster decides how much of its kubeconfig is honoured:
-- 'api' (a tenant, through the API: inline credentials only, and outbound
-- connections through the egress policy) or 'operator' (kubelog serve
-- --kubeconfig: client-go's full behaviour). Rows of earlier versions count
-- as 'api' until the operator's start marks its own cluster. From this
-- version on, kubeconfig holds the value sealed by the server's secret key.
ALTER TABLE cluster_configs ADD COLUMN origin TEXT NOT NULL DEFAULT 'api';
