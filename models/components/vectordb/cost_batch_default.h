/* Written by bench/vectordb/fit-batch from bench/vectordb/batch-measured-amd-epyc-family-25-model-17.csv:
 * the batched-search CPU coefficients (seconds) of FAISS 1.7.3 on that CPU
 * (docs/models/vectordb.md, "Batched search"). Do not edit. */
static const struct { double batch_query, blas_dim, blas_vector; } vdb_batch_cost_default = {
    .batch_query = 6.65928e-06,
    .blas_dim = 6.19811e-10,
    .blas_vector = 0,
};
