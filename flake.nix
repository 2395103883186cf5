{
  description = "orka-gateway: a Kubernetes-native LLM gateway";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAll = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      devShells = forAll (pkgs: {
        default = pkgs.mkShell {
          packages = [ pkgs.nodejs_24 pkgs.kubectl pkgs.kustomize pkgs.jq ];
        };
      });

      packages = forAll (pkgs:
        let
          # npm dependencies come from package-lock.json (fetched as fixed-output derivations);
          # nothing else is downloaded at build time.
          gateway = pkgs.buildNpmPackage {
            pname = "orka-gateway";
            version = "0.1.0";
            src = ./.;
            nodejs = pkgs.nodejs_24;
            npmDeps = pkgs.importNpmLock { npmRoot = ./.; };
            npmConfigHook = pkgs.importNpmLock.npmConfigHook;
            npmFlags = [ "--omit=dev" "--ignore-scripts" ];
            dontNpmBuild = true; # the sources run as TypeScript on Node 24
            installPhase = ''
              mkdir -p $out/lib/orka-gateway $out/bin
              cp -r package.json bin src node_modules $out/lib/orka-gateway/
              makeWrapper ${pkgs.nodejs_24}/bin/node $out/bin/orka-gateway \
                --add-flags $out/lib/orka-gateway/bin/orka-gateway.js
            '';
          };
        in
        {
          default = gateway;
          image = pkgs.dockerTools.buildLayeredImage {
            name = "orka-gateway";
            tag = "latest";
            contents = [ gateway pkgs.cacert ];
            config = {
              Entrypoint = [ "${gateway}/bin/orka-gateway" ];
              Cmd = [ "serve" ];
              User = "10001:10001";
              ExposedPorts = { "8080/tcp" = { }; };
              Env = [ "NODE_ENV=production" ];
            };
          };
        });
    };
}
