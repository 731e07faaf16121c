{{ len (split "" ",") }} {{ len (split "" "") }}
