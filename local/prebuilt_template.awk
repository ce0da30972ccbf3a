# template.yaml for `sam build` from prebuilt artefacts (see `make build`): each function's
# `BuildMethod: rust-cargolambda` becomes `SkipBuild: true`, and its CodeUri the directory in which cargo-lambda
# left its bootstrap (`-v dir=<target>/lambda`). Everything else is copied as is.
/^      BuildMethod: rust-cargolambda$/ { print "      SkipBuild: true"; next }
/^      BuildProperties:$/ { next }
/^        Binary: / { binary = $2; next }
/^    Properties:$/ && binary != "" { print; print "      CodeUri: " dir "/" binary; binary = ""; next }
{ print }
