// Writes the seed corpus of s3_xml_fuzzer: ListObjectsV2 pages as radosgw and
// AWS send them (with and without a continuation token, escaped keys, an empty
// page) and <Error> bodies, one file each, in the input layout of
// s3_xml_fuzzer.cc. Usage: objstore_fuzz_seeds <dir>.
// `REGEN_SEEDS=1 scripts/fuzz.sh` runs it; the output is checked in under
// objstore/fuzz_corpus/s3_xml/.
#include <cstdio>
#include <string>

#include "common/seed_writer.h"

namespace {

// The fuzzer's input: the prefix to strip, then the document.
std::string Input(const std::string& prefix, const std::string& xml) {
  return std::string(1, static_cast<char>(prefix.size())) + prefix + xml;
}

const char kHead[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";

std::string Contents(const std::string& key, const std::string& size, const std::string& etag) {
  return "<Contents><Key>" + key + "</Key><LastModified>2026-01-02T03:04:05.000Z</LastModified>" +
         "<ETag>&quot;" + etag + "&quot;</ETag><Size>" + size +
         "</Size><StorageClass>STANDARD</StorageClass></Contents>";
}

}  // namespace

int main(int argc, char** argv) {
  auto seeds = meridian::SeedWriter::FromArgs(argc, argv);
  if (!seeds) return 2;
  const std::string etag = "9b2cf535f27731c974343645a3985328";
  seeds->Write("list_two",
               Input("vol/", std::string(kHead) + "<Name>bucket</Name><Prefix>vol/</Prefix>" +
                                 "<KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys>" +
                                 "<IsTruncated>false</IsTruncated>" +
                                 Contents("vol/blocks/01/00/0000000000000001", "4194304", etag) +
                                 Contents("vol/marker", "120", etag) + "</ListBucketResult>"));
  seeds->Write("list_truncated",
               Input("m/", std::string(kHead) + "<IsTruncated>true</IsTruncated>" +
                               Contents("m/a", "1", etag) +
                               "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/"
                               "wm36Hy4vbOwM=</NextContinuationToken></ListBucketResult>"));
  seeds->Write("list_escaped",
               Input("", std::string(kHead) + "<IsTruncated>false</IsTruncated>" +
                             Contents("a&amp;b &lt;c&gt; &quot;d&apos; &#233; &#x1F600;", "0", "") +
                             "</ListBucketResult>"));
  seeds->Write("list_empty",
               Input("vol/", std::string(kHead) + "<KeyCount>0</KeyCount><IsTruncated>false"
                                                  "</IsTruncated></ListBucketResult>"));
  seeds->Write("list_self_closing",
               Input("", std::string(kHead) + "<Contents><Key>k</Key><Size>7</Size><ETag/>" +
                             "</Contents><IsTruncated>false</IsTruncated></ListBucketResult>"));
  seeds->Write("error_no_such_bucket",
               Input("",
                     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchBucket"
                     "</Code><Message>The specified bucket does not exist</Message>"
                     "<BucketName>b</BucketName><RequestId>tx0001</RequestId>"
                     "<HostId>abc</HostId></Error>"));
  seeds->Write("error_slow_down",
               Input("",
                     "<Error><Code>SlowDown</Code><Message>Please reduce your request rate."
                     "</Message><Key>vol/blocks/aa/bb/00000000000000aa</Key></Error>"));
  return seeds->ExitCode();
}
