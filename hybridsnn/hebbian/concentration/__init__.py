"""The concentration task (memory card game trained with PPO): the games (:mod:`.game`), the SNN
actor-critic (:mod:`.policy`), PPO (:mod:`.ppo`), reference players (:mod:`.agents`), rollouts and updates
(:mod:`.training`), its flags (:mod:`.flags`) and training/testing/figures (:mod:`.run`)."""
