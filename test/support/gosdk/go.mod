module kumulus.test/gosdk

go 1.23

require github.com/apache/cloudstack-go/v2 v2.17.0

require go.uber.org/mock v0.5.0 // indirect
