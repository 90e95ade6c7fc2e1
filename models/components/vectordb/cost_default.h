/* Written by bench/vectordb/fit: placeholder until the first fit. */
const vdb_cost_t vdb_cost_default = {
    .call = 2e-6, .scan_dim = 0.1e-9, .scan_vector = 1e-9, .graph_dim = 0.2e-9, .graph_distance = 20e-9,
    .pq_code = 0.5e-9, .pq_table = 0.5e-9, .hnsw_a = 10, .hnsw_m = 0.6, .hnsw_ef = 0.8, .hnsw_n = 0.2,
    .imbalance = 1.2,
};
