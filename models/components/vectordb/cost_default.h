/* Written by bench/vectordb/fit from bench/vectordb/measured-amd-epyc-family-26-model-2.csv: the CPU coefficients (seconds)
 * of one FAISS 1.7.3 search thread on that CPU, and the structure of
 * HNSW walks and IVF lists (docs/models/vectordb.md). Do not edit. */
const vdb_cost_t vdb_cost_default = {
    .call = 1.37786e-05,
    .scan_dim = 7.34959e-10,
    .scan_vector = 0,
    .graph_dim = 2.90603e-09,
    .graph_distance = 1.37832e-07,
    .pq_code = 0,
    .pq_table = 2.30513e-09,
    .hnsw_a = 0.346925,
    .hnsw_m = 0.418627,
    .hnsw_ef = 0.921365,
    .hnsw_n = 0.232383,
    .imbalance = 1.49171,
};
