module ragsim/bench/goruntime

go 1.19
