from experiments import nlhf_text
from experiments.configs import nlhf_text as cfg
c = cfg.get_config("paper")
c.tasks = "vicuna80_human,qlora_oa"
c.taus = "0.05,0.01"
c.algorithms = "nash_md,rlhf,nash_rs_authors"
c.num_steps = 20; c.eval_every = 20; c.model_steps = 20
c.finetune_steps = 5; c.rlhf_converged_steps = 40; c.bootstrap_resamples = 100
print(nlhf_text.run(c, "/tmp/nt_paper_smoke")[-3000:])
